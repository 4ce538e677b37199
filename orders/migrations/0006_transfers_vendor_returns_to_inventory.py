"""Transfers, vendor returns and credit notes are inventory's now (inventory 0005 took
them into its state): they leave orders' state only. Their tables stay, with every row."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_channelorder_not_stocked"),
        ("inventory", "0005_transfers_vendor_returns_from_orders"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                # lines first: they point at their documents
                migrations.DeleteModel(name="TransferLine"),
                migrations.DeleteModel(name="Transfer"),
                migrations.DeleteModel(name="VendorReturnLine"),
                migrations.DeleteModel(name="VendorReturn"),
                migrations.DeleteModel(name="CreditNote"),
            ],
            database_operations=[],
        )
    ]
