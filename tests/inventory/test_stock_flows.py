"""Receiving a delivery, releasing quarantined units and writing them off: who may, what each
needs (a positive quantity, a reason or a reference), and that a refusal writes nothing."""

from __future__ import annotations

import pytest

from catalog.models import Product
from ims.csvio import INT_MAX
from ims.errors import NotAllowed
from ims.models import AuditEvent
from ims.roles import Role
from inventory.errors import InvalidLines, StockTooLarge
from inventory.models import Location, Movement, StockLevel
from inventory.services.stock import (
    StockMove,
    stock_move,
    stock_quarantine_release,
    stock_receive,
    stock_write_off,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def returned(world):
    """3 units of A-1 back from customers at WH, quarantined."""
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    stock_move(
        moves=[StockMove(a1.pk, wh.pk, "", "quarantined", 3)],
        reason="customer_return",
        ref="return:1",
    )
    return a1, wh


def level(product, location):
    return StockLevel.objects.get(product=product, location=location)


@pytest.mark.parametrize("role", [Role.OPS, Role.STORE_STAFF, Role.ADMIN, Role.SUPERADMIN])
def test_the_floor_roles_receive_a_delivery_into_available(returned, user_with_role, role):
    a1, wh = returned
    person = user_with_role(role)
    stock_receive(product_id=a1.pk, location_id=wh.pk, quantity=5, reference="DN-881", actor=person)
    assert level(a1, wh).available == 5
    movement = Movement.objects.get(reason="receipt")
    assert (movement.ref, movement.to_state, movement.actor) == (
        "receipt:DN-881",
        "available",
        person,
    )
    event = AuditEvent.objects.get(action="stock_receive")
    assert (event.actor, event.object_type, event.object_id) == (person, "receipt", "DN-881")


@pytest.mark.parametrize("role", [Role.CATALOG_MANAGER, Role.PRICING, Role.FINANCE])
def test_other_roles_may_not_receive_stock_and_nothing_is_written(returned, user_with_role, role):
    a1, wh = returned
    with pytest.raises(NotAllowed):
        stock_receive(
            product_id=a1.pk,
            location_id=wh.pk,
            quantity=5,
            reference="DN-1",
            actor=user_with_role(role),
        )
    assert level(a1, wh).available == 0 and not Movement.objects.filter(reason="receipt").exists()


def test_ims_itself_receives_for_an_integration(returned):
    a1, wh = returned
    stock_receive(product_id=a1.pk, location_id=wh.pk, quantity=2, reference="ASN-7")
    assert level(a1, wh).available == 2


@pytest.mark.parametrize(
    "quantity, reference, field",
    [
        (0, "DN-1", "quantity"),
        (-2, "DN-1", "quantity"),
        (3, "  ", "reference"),
        (3, "x" * 57, "reference"),
    ],
)
def test_a_receipt_needs_units_and_a_reference(returned, quantity, reference, field):
    a1, wh = returned
    with pytest.raises(InvalidLines) as refused:
        stock_receive(product_id=a1.pk, location_id=wh.pk, quantity=quantity, reference=reference)
    assert field in refused.value.extra["fields"]
    assert not Movement.objects.filter(reason="receipt").exists()


def test_a_receipt_past_what_a_level_holds_is_refused_whole(returned):
    a1, wh = returned
    stock_receive(product_id=a1.pk, location_id=wh.pk, quantity=INT_MAX, reference="big")
    with pytest.raises(StockTooLarge):
        stock_receive(product_id=a1.pk, location_id=wh.pk, quantity=1, reference="one more")
    assert level(a1, wh).available == INT_MAX
    assert Movement.objects.filter(reason="receipt").count() == 1


@pytest.mark.parametrize("decide", [stock_quarantine_release, stock_write_off])
def test_a_quarantine_decision_needs_a_reason_and_units(returned, user_with_role, decide):
    a1, wh = returned
    store = user_with_role(Role.STORE_STAFF)
    for quantity, reason, field in [(1, " ", "reason"), (0, "checked", "quantity")]:
        with pytest.raises(InvalidLines) as refused:
            decide(
                product_id=a1.pk, location_id=wh.pk, quantity=quantity, actor=store, reason=reason
            )
        assert field in refused.value.extra["fields"]
    assert level(a1, wh).quarantined == 3


@pytest.mark.parametrize("role", [Role.OPS, Role.FINANCE, Role.CATALOG_MANAGER, Role.PRICING])
def test_only_store_staff_and_admins_decide_on_quarantine(returned, user_with_role, role):
    a1, wh = returned
    person = user_with_role(role)
    for decide in (stock_quarantine_release, stock_write_off):
        with pytest.raises(NotAllowed):
            decide(product_id=a1.pk, location_id=wh.pk, quantity=1, actor=person, reason="ok")
    assert level(a1, wh).quarantined == 3
