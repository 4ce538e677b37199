from django.apps import AppConfig
from django.contrib.admin.apps import SimpleAdminConfig
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks


class ImsConfig(AppConfig):
    name = "ims"
    verbose_name = "IMS"


class AdminConfig(SimpleAdminConfig):
    """The admin site, whose ModelAdmins are found when the URLs load (orchestration/urls.py), not at
    start-up: a command or a worker that serves no page does not import every app's admin
    module (with the forms, DRF and the rest they pull in: ~0.2 s of each start). The admin
    system checks find them first, so `manage.py check` still checks every ModelAdmin."""

    def ready(self):
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(_check_admin_app, checks.Tags.admin)


def _check_admin_app(app_configs, **kwargs):
    from django.contrib import admin

    admin.autodiscover()
    return check_admin_app(app_configs, **kwargs)
