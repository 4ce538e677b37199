"""The transfers page (/stock/transfers/): send units from one location to another, the
transfers in transit (totals, position, SKU and location search, CSV export, empty state) and
Receive per transfer, as each role sees them; the command that sends one."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product
from ims.models import AuditEvent
from ims.roles import Role
from inventory.api.transfers import TransferOut
from inventory.models import Location, StockLevel, Transfer, TransferStatus
from inventory.services.stock import StockMove, stock_move

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true", "HX-Target": "results"}


def level(sku, code):
    return StockLevel.objects.get(product__sku=sku, location__code=code)


@pytest.fixture
def stocked(world):
    """10 units of A-1 and 4 of B-2 available at WH."""
    wh = Location.objects.get(code="WH")
    stock_move(
        moves=[
            StockMove(Product.objects.get(sku=sku).pk, wh.pk, "", "available", units)
            for sku, units in (("A-1", 10), ("B-2", 4))
        ],
        reason="receipt",
        ref="r:1",
    )


def signed_in(client, user_with_role, role):
    client.force_login(user_with_role(role))
    return client


def send(client, sku="A-1", quantity=3, source="WH", destination="NYC", reason="TR-1", **kw):
    body = {"sku": sku, "source": source, "destination": destination, "quantity": quantity}
    return client.post("/stock/transfers/send/", {**body, "reason": reason, "query": ""}, **kw)


def test_store_staff_send_a_transfer_and_see_it_in_transit(stocked, client, user_with_role):
    signed_in(client, user_with_role, Role.STORE_STAFF)
    response = send(client, headers=HTMX)
    html = response.content.decode()
    transfer = Transfer.objects.get()
    assert "Sent 3 units of A-1 from WH to NYC (transfer" in html and 'id="messages"' in html
    assert f'data-transfer="{transfer.pk}"' in html and 'class="acted"' in html
    assert 'id="send" hx-swap-oob="true"' in html  # an empty send form for the next one
    assert level("A-1", "WH").available == 7 and level("A-1", "NYC").in_transit == 3
    assert AuditEvent.objects.filter(action="transfer_send", reason="TR-1").exists()


def test_the_in_transit_list_has_totals_position_search_and_an_empty_state(
    stocked, client, user_with_role
):
    signed_in(client, user_with_role, Role.OPS)
    send(client)
    send(client, sku="B-2", quantity=2, reason="TR-2")
    client.force_login(user_with_role(Role.FINANCE, "fin"))
    page = client.get("/stock/transfers/")
    html = page.content.decode()
    assert [line.product.sku for line in page.context["page"]] == ["B-2", "A-1"]  # newest first
    assert page.context["totals"] == {"transfers": 2, "skus": 2, "units": 5}
    assert "1–2 of 2" in html
    assert "Receive all at" not in html and 'id="send"' not in html  # Finance sees, does not act
    found = client.get("/stock/transfers/?q=B-")
    assert [line.product.sku for line in found.context["page"]] == ["B-2"]
    assert client.get("/stock/transfers/?location=NYC").context["totals"]["transfers"] == 2
    nothing = client.get("/stock/transfers/?q=Z").content.decode()
    assert "No transfer in transit matches" in nothing and "clear the search" in nothing


def test_the_export_holds_every_in_transit_line_of_the_search(stocked, client, user_with_role):
    user = user_with_role(Role.OPS, "olga")
    client.force_login(user)
    send(client, reason="TR-9")
    send(client, sku="B-2", quantity=1)
    rows = (
        b"".join(client.get("/stock/transfers/export.csv?q=A-").streaming_content)
        .decode()
        .strip()
        .splitlines()
    )
    assert rows[0] == (
        "transfer,sku_id,name,from,to,units,status,reason,sent_at,sent_by,received_at,received_by"
    )
    assert len(rows) == 2 and rows[1].split(",")[1:8] == [
        "A-1",
        "Shirt",
        "WH",
        "NYC",
        "3",
        "in_transit",
        "TR-9",
    ]
    assert rows[1].split(",")[9] == "olga"


def test_ops_receive_a_transfer_and_the_row_stays_in_view_received(stocked, client, user_with_role):
    signed_in(client, user_with_role, Role.OPS)
    send(client)
    transfer = Transfer.objects.get()
    response = client.post(f"/stock/transfers/{transfer.pk}/receive/", {"query": ""}, headers=HTMX)
    html = response.content.decode()
    assert f"Received transfer {transfer.pk}: 3 units now available at NYC." in html
    assert f'data-transfer="{transfer.pk}"' in html and 'data-status="received"' in html
    nyc = level("A-1", "NYC")
    assert (nyc.in_transit, nyc.available) == (0, 3)
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    again = client.post(f"/stock/transfers/{transfer.pk}/receive/", {"query": ""}, follow=True)
    assert "was already received" in again.content.decode()
    assert "Every transfer sent has been received." in again.content.decode()


def test_too_many_units_or_one_place_sends_nothing_and_the_page_says_why(
    stocked, client, user_with_role
):
    signed_in(client, user_with_role, Role.STORE_STAFF)
    too_many = send(client, quantity=11, follow=True).content.decode()
    assert "Nothing sent: A-1 at WH: not enough available stock: 11 wanted, 10 there" in too_many
    same = send(client, destination="WH", follow=True).content.decode()
    assert "Nothing sent. Check To: Must differ from the source." in same
    unknown = send(client, sku="Z-0", reason="", follow=True).content.decode()
    assert "No product with SKU Z-0." in unknown and "Reference or reason" in unknown
    assert not Transfer.objects.exists() and level("A-1", "WH").available == 10
    refused = send(client, quantity=11, headers=HTMX).content.decode()
    assert "not enough available stock" in refused
    assert 'id="send"' not in refused  # the form is not replaced: what was typed stays


@pytest.mark.parametrize("role", [Role.FINANCE, Role.CATALOG_MANAGER, Role.PRICING])
def test_roles_that_may_not_send_are_refused_and_audited(stocked, client, user_with_role, role):
    signed_in(client, user_with_role, role)
    assert send(client).status_code == 403
    assert AuditEvent.objects.filter(action="access_denied", object_id="stock:transfer_send")
    assert not Transfer.objects.exists()


def test_the_product_page_shows_units_in_transit(stocked, client, user_with_role):
    signed_in(client, user_with_role, Role.OPS)
    send(client)
    html = client.get("/products/A-1/").content.decode()
    assert 'data-state="in_transit">3<' in html
    assert 'href="/stock/transfers/?sku=A-1"' in html  # Send a transfer, the SKU filled in
    form = client.get("/stock/transfers/?sku=A-1").context["form"]
    assert form["sku"].value() == "A-1"


def test_the_command_sends_a_transfer_as_ims(stocked, capsys):
    call_command("transfer_stock", "A-1", "WH", "NYC", "4", "--reference", "TR-CLI")
    transfer = Transfer.objects.get()
    assert (
        "sent 4 × A-1 from WH to NYC (TR-CLI); in transit until received" in capsys.readouterr().out
    )
    assert transfer.created_by is None and transfer.reason == "TR-CLI"
    assert TransferOut(transfer).data["created_by"] is None  # the API shows IMS sent it
    assert level("A-1", "WH").available == 6 and level("A-1", "NYC").in_transit == 4
    audited = AuditEvent.objects.get(action="transfer_send")
    assert audited.origin == "command transfer_stock"


@pytest.mark.parametrize(
    "args, problem",
    [
        (["Z-0", "WH", "NYC", "1"], "sku: no product Z-0"),
        (["A-1", "MARS", "NYC", "1"], "FROM: no location MARS"),
        (["A-1", "WH", "NYC", "11"], "not enough available stock"),
        (["A-1", "WH", "WH", "1"], "must differ from the source"),
        (["A-1", "WH", "NYC", "0"], "must be a positive whole number"),
    ],
)
def test_the_command_refuses_what_it_cannot_send_and_changes_nothing(stocked, args, problem):
    with pytest.raises(CommandError, match=problem):
        call_command("transfer_stock", *args, "--reference", "TR")
    assert not Transfer.objects.exists() and level("A-1", "WH").available == 10
