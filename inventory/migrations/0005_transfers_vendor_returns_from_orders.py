"""Transfers, vendor returns and credit notes move from orders to inventory: state only.

The tables keep their names (orders_transfer, …; db_table on the models), so no row moves
and nothing is lost. orders' 0006 then drops the models from orders' state, and 0006 here
renames their content types, so their permissions (and every grant of them) become
inventory.*."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_sku_identifier_rule"),
        ("inventory", "0004_location_code_identifier_rule"),
        # the tables were created by orders' migrations, and are left as they are
        ("orders", "0005_channelorder_not_stocked"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="CreditNote",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("vendor", models.CharField(max_length=255)),
                ("number", models.CharField(max_length=64)),
                ("amount", models.DecimalField(decimal_places=4, max_digits=14)),
                ("currency", models.CharField(max_length=3)),
                ("issued_on", models.DateField()),
                ("created_at", models.DateTimeField()),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "db_table": "orders_creditnote",
                "constraints": [
                    models.UniqueConstraint(fields=("vendor", "number"), name="credit_note_unique"),
                    models.CheckConstraint(condition=models.Q(("amount__gte", 0)), name="credit_note_amount"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Transfer",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(choices=[("in_transit", "in transit"), ("received", "Received")], max_length=12)),
                ("reason", models.CharField(max_length=255)),
                ("created_at", models.DateTimeField()),
                ("received_at", models.DateTimeField(blank=True, null=True)),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("destination", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="inventory.location")),
                ("received_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("source", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="inventory.location")),
            ],
            options={
                "db_table": "orders_transfer",
                "permissions": [("receive_transfer", "Can receive transfers")],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("source", models.F("destination")), _negated=True), name="transfer_between_two_locations"),
                ],
            },
        ),
        migrations.CreateModel(
            name="TransferLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("quantity", models.PositiveIntegerField()),
                ("product", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="catalog.product")),
                ("transfer", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="lines", to="inventory.transfer")),
            ],
            options={
                "db_table": "orders_transferline",
                "constraints": [
                    models.UniqueConstraint(fields=("transfer", "product"), name="transfer_line_unique"),
                    models.CheckConstraint(condition=models.Q(("quantity__gt", 0)), name="transfer_line_quantity"),
                ],
            },
        ),
        migrations.CreateModel(
            name="VendorReturn",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("vendor", models.CharField(max_length=255)),
                ("tracking_number", models.CharField(max_length=128)),
                ("reason", models.CharField(max_length=255)),
                ("status", models.CharField(choices=[("shipped", "Shipped"), ("closed", "Closed")], max_length=8)),
                ("created_at", models.DateTimeField()),
                ("closed_at", models.DateTimeField(blank=True, null=True)),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("credit_note", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="vendor_return", to="inventory.creditnote")),
                ("location", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="inventory.location")),
            ],
            options={
                "db_table": "orders_vendorreturn",
                "permissions": [("close_vendorreturn", "Can link a credit note and close a vendor return")],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("tracking_number", ""), _negated=True), name="vendor_return_tracking_required"),
                    models.CheckConstraint(condition=models.Q(models.Q(("status", "closed"), _negated=True), ("credit_note__isnull", False), _connector="OR"), name="vendor_return_closed_has_credit_note"),
                ],
            },
        ),
        migrations.CreateModel(
            name="VendorReturnLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("from_state", models.CharField(max_length=12)),
                ("quantity", models.PositiveIntegerField()),
                ("product", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="catalog.product")),
                ("vendor_return", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="lines", to="inventory.vendorreturn")),
            ],
            options={
                "db_table": "orders_vendorreturnline",
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[])
    ]
