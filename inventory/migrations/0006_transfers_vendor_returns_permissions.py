"""The content types of transfers, vendor returns and credit notes move from orders to
inventory, so their Permission rows, and every group's and user's grant of them, become
inventory.* (inventory.add_transfer, inventory.close_vendorreturn, …) without being
recreated. Then the role groups are synced with ims.roles."""

from django.db import migrations

from ims.roles import sync_groups

MODELS = ("transfer", "transferline", "vendorreturn", "vendorreturnline", "creditnote")


def _move(apps, *, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in MODELS:
        old = ContentType.objects.filter(app_label=source, model=model).first()
        if old is None:  # a database made after this change
            continue
        new = ContentType.objects.filter(app_label=target, model=model).first()
        if new is None:  # the usual case: the row is renamed, its permissions follow
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        # Both exist (another migration's permission sync created the target first): the
        # grants move onto the target's permissions, then the source's rows go.
        for permission in Permission.objects.filter(content_type=old):
            twin = Permission.objects.filter(content_type=new, codename=permission.codename).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
                continue
            twin.group_set.add(*permission.group_set.all())
            twin.user_set.add(*permission.user_set.all())
            permission.delete()
        old.delete()
    ContentType.objects.clear_cache()


def forwards(apps, schema_editor):
    _move(apps, source="orders", target="inventory")
    sync_groups(apps, schema_editor)


def backwards(apps, schema_editor):
    _move(apps, source="inventory", target="orders")


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_transfers_vendor_returns_from_orders"),
        ("orders", "0006_transfers_vendor_returns_to_inventory"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
