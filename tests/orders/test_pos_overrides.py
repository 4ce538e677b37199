"""POS override approvals, reachable: a store sale held because it needs units reserved for
online orders is listed (/api/orders/pos-sales/, /stock/pos-overrides/ and its CSV) with what
approving it would do — the units taken from reserved and the online orders that would wait,
the newest first, as pos_sale_approve takes them; Admins approve or reject it with a reason;
every refusal names its field (400) or says why (409)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.models import Channel
from ims.models import OpsTask
from ims.roles import Role
from orders.models import ChannelOrder, PosSale
from orders.pos_selectors import pos_sale_list, pos_sale_outlook
from orders.providers.base import LineIn, OrderIn, PosSaleIn
from orders.services.intake import order_receive
from orders.services.pos import pos_sale_record, pos_sale_reject
from tests.orders.conftest import level

pytestmark = pytest.mark.django_db

URL = "/api/orders/pos-sales/"


def online_order(external_id: str, sku: str, quantity: int, at: dt.datetime) -> ChannelOrder:
    order, _ = order_receive(
        channel=Channel.objects.get(code="shop"),
        incoming=OrderIn(
            external_id=external_id,
            name=f"#{external_id}",
            placed_at=at,
            lines=(LineIn(external_id="1", sku=sku, quantity=quantity),),
        ),
        now=at,
    )
    return order


def store_sale(receipt: str, location: str, sku: str, quantity: int, actor) -> PosSale:
    sale, _ = pos_sale_record(
        channel=None,
        incoming=PosSaleIn(receipt, location, (LineIn("1", sku, quantity),)),
        actor=actor,
    )
    return sale


@pytest.fixture
def held(channels, user_with_role):
    """B-2 at WH: 10 units, 8 reserved by two online orders (1001 × 5, then 1002 × 3, newer);
    Sam (Store Staff) rang up R-7, 4 × B-2 at WH: held (2 available, 2 from reserved)."""
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    online_order("1001", "B-2", 5, at)
    online_order("1002", "B-2", 3, at + dt.timedelta(minutes=5))
    sam = user_with_role(Role.STORE_STAFF, "sam")
    sale = store_sale("R-7", "WH", "B-2", 4, sam)
    assert sale.status == "held"
    return sale


@pytest.fixture
def api(user_with_role):
    clients = {}

    def make(role):
        if role in clients:
            return clients[role]
        client = clients[role] = APIClient()
        token = Token.objects.create(user=user_with_role(role, f"api-{role.name.lower()}"))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def test_a_held_sale_shows_the_units_it_would_take_and_the_newest_order_that_would_wait(held):
    (sale,) = pos_sale_outlook(pos_sale_list(status="held"))
    assert sale.outlook == [{"sku": "B-2", "quantity": 4, "from_reserved": 2}]
    assert [(w["order"], w["sku"], w["units"]) for w in sale.waiting] == [("shop:1002", "B-2", 2)]
    assert (sale.short, sale.task_status, sale.state_words) == (
        0,
        "open",
        "held, awaiting a decision",
    )


def test_the_orders_a_held_sale_would_wait_on_are_those_approving_makes_wait(held, api):
    listed = api(Role.ADMIN).get(URL).json()
    (row,) = listed["results"]
    assert row["waiting_orders"][0]["order"] == "shop:1002"
    approved = api(Role.ADMIN).post(f"{URL}{held.pk}/approve/", {"reason": "VIP"}, format="json")
    assert approved.status_code == 200
    waited = ChannelOrder.objects.get(external_id="1002").lines.get()
    untouched = ChannelOrder.objects.get(external_id="1001").lines.get()
    assert (waited.reserved, waited.backordered) == (1, 2)
    assert (untouched.reserved, untouched.backordered) == (5, 0)
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (0, 6)

    detail = api(Role.STORE_STAFF).get(f"{URL}{held.pk}/").json()
    assert (detail["status"], detail["state"], detail["decision_reason"]) == (
        "completed",
        "approved",
        "VIP",
    )
    assert detail["lines"] == [{"sku_id": "B-2", "quantity": 4, "from_reserved": 2}]
    assert [w["order"] for w in detail["waiting_orders"]] == ["shop:1002"]
    assert detail["task_status"] == "done"
    assert OpsTask.objects.get(kind="pos_override").status == "done"


def test_the_list_filters_by_state_location_and_sku_prefix(held, api, user_with_role):
    other = store_sale("R-8", "WH", "B-2", 3, None)
    pos_sale_reject(sale=other, actor=user_with_role(Role.ADMIN, "ann"), reason="online first")
    store_sale("R-9", "NYC", "A-1", 1, None)  # completed at once: never an override request
    client = api(Role.OPS)

    def receipts(**params):
        answer = client.get(URL, params)
        assert answer.status_code == 200, answer.json()
        return [r["external_id"] for r in answer.json()["results"]]

    assert receipts() == ["R-7", "R-8"]  # held first
    assert receipts(status="held") == ["R-7"]
    assert receipts(status="rejected") == ["R-8"]
    assert receipts(status="approved") == []
    assert receipts(location="NYC") == []
    assert receipts(sku="b-") == ["R-7", "R-8"]
    assert receipts(sku="A-") == []
    assert client.get(URL).json()["count"] == 2


@pytest.mark.parametrize(
    "params, field",
    [({"status": "maybe"}, "status"), ({"location": "NOWHERE"}, "location")],
    ids=["status", "location"],
)
def test_a_bad_filter_is_a_400_naming_it(held, api, params, field):
    refused = api(Role.ADMIN).get(URL, params)
    assert refused.status_code == 400
    assert field in refused.json()["extra"]["fields"]


def test_a_sale_that_never_needed_an_override_is_not_found(channels, api):
    sale = store_sale("R-1", "NYC", "A-1", 1, None)
    assert sale.status == "completed"
    assert api(Role.ADMIN).get(f"{URL}{sale.pk}/").status_code == 404


def test_a_decision_without_a_reason_names_the_field_and_moves_nothing(held, api):
    refused = api(Role.ADMIN).post(f"{URL}{held.pk}/approve/", {"reason": " "}, format="json")
    assert refused.status_code == 400
    assert "reason" in refused.json()["extra"]["fields"]
    held.refresh_from_db()
    assert held.status == "held"
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (2, 8)


def test_a_second_decision_is_a_409_saying_it_was_decided(held, api):
    admin = api(Role.ADMIN)
    assert admin.post(f"{URL}{held.pk}/reject/", {"reason": "no"}, format="json").status_code == 200
    again = admin.post(f"{URL}{held.pk}/approve/", {"reason": "yes"}, format="json")
    assert again.status_code == 409
    assert "was rejected already" in again.json()["message"]
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (2, 8)


def test_the_page_lists_the_held_sale_and_its_csv_honours_the_tab(held, client, user_with_role):
    client.force_login(user_with_role(Role.ADMIN, "ann"))
    page = client.get("/stock/pos-overrides/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "R-7" in html and "shop:1002" in html and "2 from reserved" in html
    assert "1–1 of 1" in html

    csv_rows = list(
        csv.reader(
            io.StringIO(
                b"".join(client.get("/stock/pos-overrides/export.csv").streaming_content).decode()
            )
        )
    )
    assert csv_rows[0][:4] == ["id", "receipt", "location", "state"]
    assert [(r[1], r[8], r[9]) for r in csv_rows[1:]] == [("R-7", "2", "shop:1002 B-2x2")]
    rejected = client.get("/stock/pos-overrides/export.csv?status=rejected")
    assert len(b"".join(rejected.streaming_content).decode().strip().splitlines()) == 1


def test_the_page_refuses_a_decision_without_a_reason_beside_the_field(
    held, client, user_with_role
):
    client.force_login(user_with_role(Role.ADMIN, "ann"))
    refused = client.post(
        f"/stock/pos-overrides/{held.pk}/decide/", {"decision": "approve", "reason": ""}
    )
    assert refused.status_code == 400
    html = refused.content.decode()
    assert 'data-error-for="reason"' in html and "A reason is required." in html
    held.refresh_from_db()
    assert held.status == "held"

    done = client.post(
        f"/stock/pos-overrides/{held.pk}/decide/",
        {"decision": "reject", "reason": "online first", "query": "status=held"},
        follow=True,
    )
    html = done.content.decode()
    assert "POS sale R-7 at WH rejected" in html
    assert "No POS sales are waiting for approval." in html


def test_store_staff_see_the_held_sale_without_the_buttons(held, client):
    client.force_login(held.created_by)
    html = client.get("/stock/pos-overrides/").content.decode()
    assert "R-7" in html and "Approve</button>" not in html
    refused = client.post(f"/stock/pos-overrides/{held.pk}/decide/", {"decision": "approve"})
    assert refused.status_code == 403


def test_a_second_admin_deciding_a_sale_already_decided_is_told_so_and_nothing_moves(
    held, client, user_with_role
):
    ann, bob = user_with_role(Role.ADMIN, "ann"), user_with_role(Role.ADMIN, "bob")
    pos_sale_reject(sale=held, actor=ann, reason="online first")  # while Bob's page was open
    client.force_login(bob)
    answer = client.post(
        f"/stock/pos-overrides/{held.pk}/decide/",
        {"decision": "approve", "reason": "customer waiting"},
        follow=True,
    )
    html = answer.content.decode()
    assert "POS sale R-7 at WH not decided: POS sale R-7 was rejected already" in html
    held.refresh_from_db()
    assert (held.status, held.decided_by, held.decision_reason) == ("rejected", ann, "online first")
    assert (level("B-2", "WH").available, level("B-2", "WH").reserved) == (2, 8)


def test_the_admins_are_notified_with_a_link_to_the_held_sale_on_the_page(channels, user_with_role):
    from ims.models import Notification

    user_with_role(Role.ADMIN, "ann")
    online_order("1001", "B-2", 8, dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    sale = store_sale("R-7", "WH", "B-2", 4, None)
    notice = Notification.objects.get(kind="pos_override", recipient__username="ann")
    assert notice.link == f"/stock/pos-overrides/?status=held#pos-{sale.pk}"


def test_once_the_online_orders_are_cancelled_approving_would_make_no_order_wait(held, api):
    from orders.services.reservation import order_cancel

    for external_id in ("1001", "1002"):
        order_cancel(order=ChannelOrder.objects.get(external_id=external_id), reason="customer")
    # 10 available now: approving would take all 4 from available, none from reserved
    (row,) = api(Role.ADMIN).get(URL, {"status": "held"}).json()["results"]
    assert (row["from_reserved"], row["waiting_orders"], row["short"]) == (0, [], 0)
    assert row["lines"] == [{"sku_id": "B-2", "quantity": 4, "from_reserved": 0}]
