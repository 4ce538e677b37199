"""/stock/vendor-returns/: who may ship goods back to a vendor (a tracking number each), who
links the credit note that closes it, what the list, its totals, search and export show; and
/finance/, where Finance sees customer returns and credit notes."""

from __future__ import annotations

import csv
import io

import pytest

from catalog.models import Product
from ims.models import AuditEvent
from ims.roles import Role
from inventory.models import CreditNote, Location, StockLevel, VendorReturn
from inventory.services.stock import StockMove, stock_move

pytestmark = pytest.mark.django_db

PAGE = "/stock/vendor-returns/"
SHIP = {
    "sku": "A-1",
    "location": "WH",
    "quantity": "2",
    "from_state": "damaged",
    "vendor": "Acme",
    "tracking_number": "1Z999",
    "reason": "faulty batch",
}
NOTE = {"number": "CN-7", "amount": "49.90", "currency": "USD", "issued_on": "2026-12-01"}


@pytest.fixture
def damaged(world):
    a1, wh = Product.objects.get(sku="A-1"), Location.objects.get(code="WH")
    stock_move(moves=[StockMove(a1.pk, wh.pk, "", "damaged", 3)], reason="count", ref="t")
    return StockLevel.objects.get(product=a1, location=wh)


@pytest.fixture
def as_role(client, user_with_role):
    users = {}

    def make(role):
        if role not in users:
            users[role] = user_with_role(role, f"u-{role.name.lower()}")
        client.force_login(users[role])
        return client

    return make


def _text(response) -> str:
    return response.content.decode()


def test_the_empty_list_says_nothing_has_been_sent_back(damaged, as_role):
    page = as_role(Role.OPS).get(PAGE)
    assert page.status_code == 200
    assert "Nothing has been sent back to a vendor yet." in _text(page)
    assert 'id="vendor-return-new"' not in _text(page)  # Ops may not ship returns


def test_store_staff_ship_a_return_and_see_its_row_and_the_message(damaged, as_role):
    client = as_role(Role.STORE_STAFF)
    response = client.post(PAGE, SHIP, follow=True)
    vr = VendorReturn.objects.get()
    assert response.redirect_chain[-1][0] == f"{PAGE}?acted={vr.pk}#vr-{vr.pk}"
    text = _text(response)
    assert f"Vendor return {vr.pk} to Acme shipped: 2 × A-1 from WH, tracking 1Z999." in text
    assert f'id="vr-{vr.pk}"' in text and "shipped, awaiting credit note" in text
    assert "1–1 of 1" in text
    damaged.refresh_from_db()
    assert damaged.damaged == 1
    assert "Link credit note" not in text  # Store Staff do not close returns


def test_without_a_tracking_number_nothing_leaves_and_the_page_says_why(damaged, as_role):
    response = as_role(Role.STORE_STAFF).post(PAGE, {**SHIP, "tracking_number": ""})
    assert response.status_code == 400
    text = _text(response)
    assert "No vendor return created. Check Tracking number: is required" in text
    assert 'data-error-for="tracking_number"' in text
    assert not VendorReturn.objects.exists()
    damaged.refresh_from_db()
    assert damaged.damaged == 3


def test_finance_link_the_credit_note_and_the_return_closes(damaged, as_role):
    as_role(Role.STORE_STAFF).post(PAGE, SHIP)
    vr = VendorReturn.objects.get()
    response = as_role(Role.FINANCE).post(
        f"{PAGE}{vr.pk}/credit-note/", {**NOTE, "query": ""}, follow=True
    )
    text = _text(response)
    assert f"Vendor return {vr.pk} to Acme closed with credit note CN-7 (49.90 USD)." in text
    vr.refresh_from_db()
    assert vr.status == "closed" and vr.credit_note.amount == CreditNote.objects.get().amount
    assert {"credit_note", "vendor_return_close"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )
    finance = as_role(Role.FINANCE).get("/finance/")
    assert "CN-7" in _text(finance) and "49.90 USD" in _text(finance)


def test_a_credit_note_of_the_same_number_twice_leaves_the_second_return_open(damaged, as_role):
    staff = as_role(Role.STORE_STAFF)
    staff.post(PAGE, {**SHIP, "quantity": "1"})
    staff.post(PAGE, {**SHIP, "quantity": "1"})
    first, second = VendorReturn.objects.order_by("pk")
    finance = as_role(Role.FINANCE)
    finance.post(f"{PAGE}{first.pk}/credit-note/", NOTE)
    response = finance.post(f"{PAGE}{second.pk}/credit-note/", NOTE, follow=True)
    assert "Acme credit note CN-7 is already recorded." in _text(response)
    second.refresh_from_db()
    assert second.status == "shipped" and CreditNote.objects.count() == 1


def test_totals_search_and_export(damaged, as_role):
    staff = as_role(Role.STORE_STAFF)
    staff.post(PAGE, {**SHIP, "quantity": "1"})
    staff.post(PAGE, {**SHIP, "quantity": "1", "vendor": "Globex", "tracking_number": "TRK-2"})
    text = _text(staff.get(PAGE))
    assert 'data-total="returns">2<' in text and 'data-total="units">2<' in text
    found = _text(staff.get(PAGE, {"q": "TRK"}))
    assert "Globex" in found and "1–1 of 1" in found
    export = staff.get(f"{PAGE}export.csv", {"q": "Globex"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:5] == ["id", "vendor", "location", "skus", "units"]
    assert [r[1] for r in rows[1:]] == ["Globex"]
    assert rows[1][7] == "shipped, awaiting credit note"


@pytest.mark.parametrize("role", [Role.OPS, Role.FINANCE, Role.CATALOG_MANAGER, Role.PRICING])
def test_roles_that_may_not_ship_returns_are_refused(damaged, as_role, role):
    refused = as_role(role).post(PAGE, SHIP)
    assert refused.status_code == 403 and "Log out" in _text(refused)  # the site's refusal page
    assert AuditEvent.objects.get(action="access_denied").object_repr == f"POST {PAGE}"
    assert not VendorReturn.objects.exists()


def test_finance_page_lists_customer_returns_and_exports_both(world, as_role):
    empty = as_role(Role.FINANCE).get("/finance/")
    assert "No customer has sent anything back yet." in _text(empty)
    assert "No vendor credit note has been recorded yet." in _text(empty)
    export = as_role(Role.FINANCE).get("/finance/credit-notes.csv")
    header = b"".join(export.streaming_content).decode().splitlines()[0]
    assert header == "vendor_return,vendor,number,amount,currency,issued_on"
    assert as_role(Role.STORE_STAFF).get("/finance/").status_code == 403


def test_finance_see_a_customer_return_and_export_it(world, as_role):
    from django.utils import timezone

    from channels.models import Channel
    from orders.models import CustomerReturn, CustomerReturnLine
    from orders.providers.base import LineIn, OrderIn
    from orders.services.intake import order_receive

    now = timezone.now()
    order, _ = order_receive(
        channel=Channel.objects.get(code="shop"),
        incoming=OrderIn(
            external_id="9001",
            name="#9001",
            placed_at=now,
            lines=(LineIn(external_id="1", sku="A-1", quantity=1),),
        ),
        now=now,
    )
    back = CustomerReturn.objects.create(
        order=order, external_id="R-55", location=Location.objects.get(code="WH"), created_at=now
    )
    CustomerReturnLine.objects.create(
        customer_return=back, line=order.lines.get(), product=order.lines.get().product, quantity=1
    )
    finance = as_role(Role.FINANCE)
    text = _text(finance.get("/finance/"))
    assert 'data-customer-return="' in text and "R-55" in text and "A-1 × 1" in text
    assert "No customer returns" not in _text(finance.get("/finance/", {"q": "A-"}))
    assert "None match." in _text(finance.get("/finance/", {"q": "B-"}))
    export = finance.get("/finance/customer-returns.csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0] == ["return", "order", "skus", "units", "location", "state", "received_at"]
    assert rows[1][:5] == ["R-55", "9001", "A-1x1", "1", "WH"]


def test_a_return_found_by_one_of_its_skus_shows_all_its_units(damaged, as_role):
    from inventory.services.vendor_returns import vendor_return_create

    b2, wh = Product.objects.get(sku="B-2"), Location.objects.get(code="WH")
    stock_move(moves=[StockMove(b2.pk, wh.pk, "", "damaged", 4)], reason="count", ref="t")
    vendor_return_create(
        vendor="Acme",
        location=wh,
        tracking_number="1Z1",
        lines=[(damaged.product_id, 1), (b2.pk, 4)],
        actor=None,
        reason="recall",
    )
    text = _text(as_role(Role.OPS).get(PAGE, {"q": "B-"}))
    assert 'data-label="Units">5<' in text and 'data-total="units">5<' in text
