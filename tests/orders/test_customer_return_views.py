"""/stock/returns/: receive a return at a store counter, inspect it, see the list (awaiting
inspection first), its filters and its CSV; a refusal names the field on the form."""

from __future__ import annotations

import csv
import io

import pytest

from ims.roles import Role
from inventory.models import Location
from orders.models import CustomerReturn
from orders.services.returns import customer_return_receive
from tests.orders.conftest import level
from tests.orders.customer_returns import shipped_order

pytestmark = pytest.mark.django_db

URL = "/stock/returns/"


@pytest.fixture
def sam(client, user_with_role, channels):
    client.force_login(user_with_role(Role.STORE_STAFF, "sam"))
    return client


def receive(client, **fields):
    body = {"channel": "shop", "order": "7001", "location": "NYC", "sku": "A-1", "quantity": "2"}
    return client.post(URL, {**body, **fields}, follow=True)


def test_a_return_received_on_the_page_waits_for_inspection_first_in_the_list(sam):
    shipped_order("shop", "7001", [("A-1", 3)])
    old = shipped_order("shop", "7000", [("B-2", 1)])
    back, _ = customer_return_receive(
        order=old, location=Location.objects.get(code="WH"), lines=[("B-2", 1)]
    )
    sam.post(f"{URL}{back.pk}/inspect/", {"sku": "B-2", "damaged": "1"})
    page = receive(sam, reference="SLIP-9")
    text = page.content.decode()
    assert "Return" in text and "awaiting inspection." in text
    new = CustomerReturn.objects.get(external_id="SLIP-9")
    rows = [r.split('"')[0] for r in text.split('data-customer-return="')[1:]]
    assert rows == [str(new.pk), str(back.pk)]  # awaiting inspection first
    assert level("A-1", "NYC").returned == 2
    assert "1–2 of 2" in text


def test_more_than_was_shipped_is_refused_beside_the_units(sam):
    shipped_order("shop", "7001", [("A-1", 1)])
    page = receive(sam, quantity="2")
    assert page.status_code == 400
    text = page.content.decode()
    assert 'data-error-for="quantity"' in text
    assert "only 1 shipped and not yet returned" in text
    assert not CustomerReturn.objects.exists()
    page = receive(sam, order="nope")
    assert 'data-error-for="order"' in page.content.decode()
    assert "No order nope on shop." in page.content.decode()


def test_the_inspection_is_told_and_the_csv_follows_the_filters(sam):
    order = shipped_order("shop", "7001", [("A-1", 3)])
    back, _ = customer_return_receive(
        order=order, location=Location.objects.get(code="NYC"), lines=[("A-1", 3)]
    )
    page = sam.post(
        f"{URL}{back.pk}/inspect/",
        {"sku": "A-1", "available": "1", "damaged": "1", "quarantined": "1"},
        follow=True,
    )
    text = page.content.decode()
    assert f"Return {back.pk} inspected: 1 available, 1 damaged, 1 quarantined." in text
    assert "(1 available, 1 damaged, 1 quarantined)" in text
    export = sam.get(f"{URL}export.csv?status=inspected&location=NYC")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [(r["order"], r["status"], r["to_damaged"]) for r in rows] == [
        ("7001", "inspected", "1")
    ]
    none = sam.get(f"{URL}export.csv?status=received")
    assert len(b"".join(none.streaming_content).decode().splitlines()) == 1  # the header only
    empty = sam.get(f"{URL}?q=ZZZ").content.decode()
    assert "None match" in empty
