from django.db import migrations

from ims.roles import sync_groups


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0001_initial"),
        ("notifications", "0001_initial"),
        ("orders", "0003_channelorder_delivered_at"),
        ("ims", "0003_roles"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
