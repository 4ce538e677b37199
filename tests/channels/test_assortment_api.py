"""The assortment API (/api/channels/{code}/assortment/): everyone lists what a channel offers
with the page's filters; Ops withhold, offer or cap named SKUs or a whole category at once;
every refusal names its field (400) and changes nothing, or is a 403."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.models import ChannelAssortment, PendingPush
from ims.models import AuditEvent
from ims.roles import Role

pytestmark = pytest.mark.django_db

URL = "/api/channels/shop/assortment/"


@pytest.fixture
def api(world, user_with_role):
    clients = {}

    def make(role):
        if role in clients:
            return clients[role]
        client = clients[role] = APIClient()
        token = Token.objects.create(user=user_with_role(role, f"api-{role.name.lower()}"))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def test_listing_shows_every_active_product_offered_until_ops_withhold_a_category(api):
    ops = api(Role.OPS)
    listed = ops.get(URL).json()
    assert listed["count"] == 3
    assert listed["results"][0] == {
        "sku_id": "A-1",
        "name": "Shirt",
        "category": "apparel",
        "offered": True,
        "max_units": None,
    }
    answer = ops.post(
        URL, {"category": "home", "publish": False, "reason": "online only"}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {
        "channel": "shop",
        "matched": 1,
        "changed": 1,
        "offered": 2,
        "withheld": 1,
    }
    withheld = ops.get(URL, {"offered": "no"}).json()["results"]
    assert [(r["sku_id"], r["offered"]) for r in withheld] == [("B-2", False)]
    assert AuditEvent.objects.get(action="channel_assortment_set").reason == "online only"
    assert list(PendingPush.objects.values_list("product__sku", flat=True)) == ["B-2"]


def test_a_cap_on_named_skus_and_null_clears_it(api):
    ops = api(Role.OPS)
    capped = ops.post(URL, {"skus": ["A-1", "W-3"], "max_units": 4}, format="json")
    assert capped.json()["changed"] == 2
    rows = {r["sku_id"]: r for r in ops.get(URL, {"sku": "a"}).json()["results"]}
    assert rows == {
        "A-1": {
            "sku_id": "A-1",
            "name": "Shirt",
            "category": "apparel",
            "offered": True,
            "max_units": 4,
        }
    }
    cleared = ops.post(URL, {"skus": ["A-1"], "max_units": None}, format="json")
    assert cleared.json()["changed"] == 1
    assert ChannelAssortment.objects.get(product__sku="A-1").max_units is None
    assert ChannelAssortment.objects.get(product__sku="W-3").max_units == 4


@pytest.mark.parametrize(
    "body, field",
    [
        ({"publish": False}, "skus"),
        ({"skus": ["A-1"], "category": "home", "publish": False}, "skus"),
        ({"skus": ["A-1"]}, "publish"),
        ({"skus": ["A-1", "NOPE"], "publish": False}, "skus"),
        ({"skus": [], "publish": False}, "skus"),
        ({"category": "garden", "publish": False}, "category"),
        ({"skus": ["A-1"], "publish": "no"}, "publish"),
        ({"skus": ["A-1"], "max_units": -1}, "max_units"),
        ({"skus": ["A-1"], "max_units": "5"}, "max_units"),
        ({"skus": ["A-1"], "max_units": 2.5}, "max_units"),
    ],
)
def test_bad_input_names_its_field_and_changes_nothing(api, body, field):
    refused = api(Role.OPS).post(URL, body, format="json")
    assert refused.status_code == 400
    assert field in refused.json()["extra"]["fields"]
    assert not ChannelAssortment.objects.exists()
    assert not PendingPush.objects.exists()


@pytest.mark.parametrize(
    "query, field", [({"offered": "maybe"}, "offered"), ({"category": "x"}, "category")]
)
def test_a_filter_it_cannot_read_is_a_400_naming_it(api, query, field):
    refused = api(Role.FINANCE).get(URL, query)
    assert refused.status_code == 400
    assert field in refused.json()["extra"]["fields"]


def test_an_unknown_channel_is_a_404(api):
    assert api(Role.OPS).get("/api/channels/nowhere/assortment/").status_code == 404
    gone = api(Role.OPS).post(
        "/api/channels/nowhere/assortment/", {"skus": ["A-1"], "publish": False}, format="json"
    )
    assert gone.status_code == 404


@pytest.mark.parametrize(
    "role", [Role.CATALOG_MANAGER, Role.PRICING, Role.STORE_STAFF, Role.FINANCE]
)
def test_roles_that_may_not_change_the_assortment_get_403_audited(api, role):
    response = api(role).post(URL, {"skus": ["A-1"], "publish": False}, format="json")
    assert response.status_code == 403
    assert AuditEvent.objects.get(action="access_denied").object_repr == f"POST {URL}"
    assert not ChannelAssortment.objects.exists()


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_list_the_assortment(api, role):
    assert api(role).get(URL).status_code == 200
