"""Transfers, vendor returns and credit notes moved from orders to inventory: their tables kept
their names, their permissions are inventory's, and the migration that renamed the content
types carries every grant over (also when the inventory rows had been made already)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from ims.roles import ROLE_PERMISSIONS, Role
from inventory.models import CreditNote, Transfer, TransferLine, VendorReturn, VendorReturnLine

pytestmark = pytest.mark.django_db

MOVED = importlib.import_module("inventory.migrations.0006_transfers_vendor_returns_permissions")


def test_the_models_keep_the_tables_they_had_in_orders():
    assert [m._meta.db_table for m in (Transfer, TransferLine, VendorReturn, VendorReturnLine)] == [
        "orders_transfer",
        "orders_transferline",
        "orders_vendorreturn",
        "orders_vendorreturnline",
    ]
    assert CreditNote._meta.db_table == "orders_creditnote"


def test_their_permissions_are_inventorys_and_the_roles_hold_them():
    assert not ContentType.objects.filter(app_label="orders", model__in=MOVED.MODELS).exists()
    assert set(
        ContentType.objects.filter(app_label="inventory", model__in=MOVED.MODELS).values_list(
            "model", flat=True
        )
    ) == set(MOVED.MODELS)
    finance = Group.objects.get(name=Role.FINANCE.value)
    held = {
        f"{app}.{codename}"
        for app, codename in finance.permissions.values_list("content_type__app_label", "codename")
    }
    assert {"inventory.add_creditnote", "inventory.close_vendorreturn"} <= held
    assert "inventory.receive_transfer" in ROLE_PERMISSIONS[Role.OPS]


def test_renaming_the_content_type_keeps_the_permission_rows_and_their_grants(
    django_user_model,
):
    user = django_user_model.objects.create_user("finance-clerk")
    close = Permission.objects.get(
        content_type__app_label="inventory", codename="close_vendorreturn"
    )
    user.user_permissions.add(close)

    MOVED._move(apps, source="inventory", target="orders")  # as it was before the move
    user = django_user_model.objects.get(pk=user.pk)
    assert user.has_perm("orders.close_vendorreturn")
    MOVED._move(apps, source="orders", target="inventory")

    user = django_user_model.objects.get(pk=user.pk)
    assert user.has_perm("inventory.close_vendorreturn")
    assert (
        Permission.objects.get(
            content_type__app_label="inventory", codename="close_vendorreturn"
        ).pk
        == close.pk
    )  # the same row: renamed, not made again


def test_grants_of_an_orders_permission_join_the_inventory_one_made_already(django_user_model):
    """Another migration's permission sync may make the inventory rows before the rename:
    the orders rows' grants move over, and the orders rows go."""
    old = ContentType.objects.create(app_label="orders", model="transfer")
    old_add = Permission.objects.create(content_type=old, codename="add_transfer", name="add")
    old_only = Permission.objects.create(content_type=old, codename="count_transfer", name="x")
    user = django_user_model.objects.create_user("early")
    user.user_permissions.add(old_add, old_only)
    group = Group.objects.create(name="early ones")
    group.permissions.add(old_add)

    MOVED._move(apps, source="orders", target="inventory")

    assert not ContentType.objects.filter(app_label="orders", model="transfer").exists()
    user = django_user_model.objects.get(pk=user.pk)
    assert user.has_perm("inventory.add_transfer") and user.has_perm("inventory.count_transfer")
    assert group.permissions.get().content_type.app_label == "inventory"
    assert (
        Permission.objects.filter(
            content_type__app_label="inventory", codename="add_transfer"
        ).count()
        == 1
    )
