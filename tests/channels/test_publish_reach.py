"""Where people publish from: the publish page (chosen SKUs, what each channel would do, a
button per channel, what was published lately), the Missing_SKU rows of triage (one, or the
ticked ones), the API (/api/channels/{code}/publish/) and `publish_listings`. The world's
`shop` is in push mode with no live connection, so its new listings go to its file drop;
`market` is read-only."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.models import Channel, ListingPublication
from exceptions.models import Discrepancy, OpsException
from ims.roles import Role
from reconcile.reconcile import reconcile

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox(world, ingest, tmp_path, monkeypatch):
    monkeypatch.setenv("IMS_CHANNEL_SHOP_OUTBOX", str(tmp_path / "outbox"))
    ingest("inventory", "sku_id,location,quantity\nA-1,WH,4\nB-2,WH,5\n")
    ingest("snapshot", "channel,sku_id,quantity,price,currency\nshop,A-1,4,30.00,USD\n")
    reconcile(out_dir=tmp_path / "reports")
    return tmp_path / "outbox"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_publish_page_says_what_each_channel_would_do(outbox, client, user_with_role):
    client.force_login(user_with_role(Role.CATALOG_MANAGER))
    page = client.get("/channels/publish/?sku=A-1,B-2")
    rows = {row["channel"].code: row for row in page.context["rows"]}
    assert rows["shop"]["ready"] == ["B-2"]
    assert [(s.sku, s.reason) for s in rows["shop"]["skipped"]] == [
        ("A-1", "shop lists it already (as A-1)")
    ]
    assert "market is read-only" in rows["market"]["blocked"]
    html = page.content.decode()
    assert "Publish 1 to shop" in html and "8.00 USD (MRP 10.00 USD), 5 units" in html

    done = client.post(
        "/channels/shop/publish/",
        {"sku": ["B-2"], "next": "/channels/publish/?sku=A-1,B-2"},
        follow=True,
    )
    assert messages_of(done) == ["1 published to shop."]
    assert [(p.product.sku, p.status) for p in done.context["publications"]] == [
        ("B-2", "published")
    ]
    # Sent once: until the channel's next read shows it, it is not offered a second time.
    (row,) = [row for row in done.context["rows"] if row["channel"].code == "shop"]
    assert [s.reason for s in row["skipped"]][1].startswith("published to shop on ")
    assert "Nothing to publish here." in done.content.decode()
    assert len(list(outbox.glob("shop-listings-*.csv"))) == 1


def test_an_empty_publish_page_says_how_to_choose(world, client, user_with_role):
    client.force_login(user_with_role(Role.FINANCE))
    html = client.get("/channels/publish/").content.decode()
    assert "Choose products" in html


def test_a_missing_sku_row_publishes_to_its_channel_and_the_row_says_pushed(
    outbox, client, user_with_role
):
    client.force_login(user_with_role(Role.OPS))
    rows = client.get("/exceptions/?discrepancy=Missing_SKU").content.decode()
    assert "Publish to shop" in rows and "Publish selected to their channels" in rows
    exception = OpsException.objects.get(
        sku_id="B-2", channel__code="shop", discrepancy=Discrepancy.MISSING_SKU
    )
    after = client.post(
        "/exceptions/publish/",
        {"ids": [exception.pk], "query": "discrepancy=Missing_SKU"},
        follow=True,
    )
    assert "1 published to shop." in messages_of(after)
    exception.refresh_from_db()
    assert exception.push_status == "pushed"


def test_a_read_only_channels_missing_sku_is_refused_with_the_reason(
    outbox, client, user_with_role
):
    client.force_login(user_with_role(Role.OPS))
    exception = OpsException.objects.get(
        sku_id="B-2", channel__code="market", discrepancy=Discrepancy.MISSING_SKU
    )
    after = client.post("/exceptions/publish/", {"ids": [exception.pk]}, follow=True)
    assert any("market is read-only" in m for m in messages_of(after))
    assert not ListingPublication.objects.exists()


def test_the_api_publishes_and_lists_what_was_published(outbox, user_with_role):
    api = APIClient()
    token = Token.objects.create(user=user_with_role(Role.CATALOG_MANAGER))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    answer = api.post("/api/channels/shop/publish/", {"skus": ["B-2", "A-1"]}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["summary"], body["dry_run"]) == ("1 published to shop; 1 left out.", False)
    assert [(p["sku_id"], p["status"], p["external_id"]) for p in body["publications"]] == [
        ("B-2", "published", "B-2")
    ]
    assert body["skipped"] == [{"sku_id": "A-1", "reason": "shop lists it already (as A-1)"}]
    listed = api.get("/api/channels/shop/publish/?status=published").json()
    assert [p["sku_id"] for p in listed["results"]] == ["B-2"]
    assert api.get("/api/channels/shop/publish/?status=nope").status_code == 400
    refused = api.post("/api/channels/market/publish/", {"skus": ["B-2"]}, format="json")
    assert refused.status_code == 400 and "read-only" in refused.json()["message"]
    empty = api.post("/api/channels/shop/publish/", {"skus": []}, format="json")
    assert empty.status_code == 400 and "skus" in empty.json()["extra"]["fields"]


def test_the_command_publishes_every_missing_sku_of_a_channel(outbox, capsys):
    call_command("publish_listings", "shop", "--missing")
    out = capsys.readouterr().out.splitlines()
    assert out == ["B-2: published: B-2", "W-3: published: W-3", "2 published to shop."]
    with pytest.raises(CommandError, match="market is read-only"):
        call_command("publish_listings", "market", "B-2")
    with pytest.raises(CommandError, match="no channel nope"):
        call_command("publish_listings", "nope", "B-2")
    Channel.objects.filter(code="shop").update(sync_mode="dry_run")
    call_command("publish_listings", "shop", "A-1")
    assert capsys.readouterr().out.splitlines() == [
        "A-1: left out: shop lists it already (as A-1)",
        "Dry run: 0 listing(s) worked out for shop, nothing sent; 1 left out.",
    ]


def test_ops_publish_the_ticked_products_of_a_channels_assortment(outbox, client, user_with_role):
    client.force_login(user_with_role(Role.OPS))
    page = client.get("/channels/shop/assortment/").content.decode()
    assert "Publish ticked to shop" in page
    # The assortment form's own fields go along; the publish reads the ticked SKUs.
    done = client.post(
        "/channels/shop/publish/",
        {
            "sku": ["A-1", "B-2"],
            "scope": "selected",
            "publish": "",
            "next": "/channels/shop/assortment/",
        },
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/channels/shop/assortment/"
    assert messages_of(done) == [
        "1 published to shop; 1 left out.",
        "A-1: not published: shop lists it already (as A-1)",
    ]
