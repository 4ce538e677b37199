from django.apps import AppConfig


class ImsConfig(AppConfig):
    name = "ims"
    verbose_name = "IMS"

    def ready(self):
        from ims.audit import name_commands_as_origin

        name_commands_as_origin()
