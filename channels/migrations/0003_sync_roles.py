"""Give the roles the sync-run permissions (ims.roles.ROLE_PERMISSIONS)."""

from django.db import migrations

from ims.roles import sync_groups


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0002_sync_runs"),
        ("ims", "0003_roles"),
    ]
    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
