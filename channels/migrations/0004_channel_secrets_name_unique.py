"""Two channel codes that read the same secrets (`shop-a`, `shop_a` → IMS_CHANNEL_SHOP_A_…) are
refused by the database; channels already stored that way stop the migration, named."""

import re
from collections import defaultdict

import django.db.models.functions.text
from django.db import migrations, models


def refuse_shared_secrets(apps, schema_editor):
    by_name = defaultdict(list)
    for code in apps.get_model("channels", "Channel").objects.values_list("code", flat=True):
        by_name[re.sub(r"[^A-Z0-9]", "_", code.upper())].append(code)
    clashes = [sorted(codes) for codes in by_name.values() if len(codes) > 1]
    if clashes:
        raise RuntimeError(
            "channels whose codes read the same secrets (rename all but one, then migrate): "
            + "; ".join(", ".join(codes) for codes in sorted(clashes))
        )


class Migration(migrations.Migration):
    dependencies = [
        ("channels", "0003_sync_roles"),
        ("inventory", "0003_movement_indexes"),
    ]

    operations = [
        migrations.RunPython(refuse_shared_secrets, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="channel",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Replace(
                    django.db.models.functions.text.Upper("code"),
                    models.Value("-"),
                    models.Value("_"),
                ),
                name="channel_secrets_name_unique",
            ),
        ),
    ]
