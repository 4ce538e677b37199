"""The roles (Django groups) with their permissions, as ims.roles.ROLE_PERMISSIONS gives them."""

from django.db import migrations

from ims.roles import sync_groups


class Migration(migrations.Migration):
    dependencies = [
        ("ims", "0002_audit_immutable"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("catalog", "0001_initial"),
        ("inventory", "0001_initial"),
        ("channels", "0001_initial"),
        ("exceptions", "0001_initial"),
    ]
    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
