from django.apps import AppConfig


class ImsConfig(AppConfig):
    name = "ims"
    verbose_name = "IMS"
