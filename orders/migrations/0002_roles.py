from django.db import migrations

from ims.roles import sync_groups


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("ims", "0003_roles"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
