"""Two channel codes that name the same secrets (`shop-a` and `shop_a` both read
IMS_CHANNEL_SHOP_A_…) are refused wherever a channel is made: the second would sign and call
with the first one's credentials."""

import pytest
from django.db import IntegrityError

from channels.models import Channel
from ims.errors import FileRejected
from ims.roles import Role

pytestmark = pytest.mark.django_db

HEADER = "code,name,kind,sync_mode,locations,safety_buffer,currency\n"


def rejected(ingest, text):
    with pytest.raises(FileRejected) as info:
        ingest("channels", text, name="channels.csv")
    return [str(e).split("/")[-1] for e in info.value.errors]


def test_a_channels_file_cannot_add_a_code_that_reads_an_existing_channels_secrets(world, ingest):
    ingest("channels", HEADER + "shop-a,Shop A,shopify,read_only,WH,0,USD\n")
    assert rejected(ingest, HEADER + "shop_a,Shop A again,shopify,push,WH,0,USD\n") == [
        "channels.csv:2: code: 'shop_a' would read the same secrets (IMS_CHANNEL_SHOP_A_…)"
        " as channel 'shop-a'"
    ]
    assert list(Channel.objects.filter(code__startswith="shop").values_list("code", flat=True)) == [
        "shop",
        "shop-a",
    ]


def test_a_channels_file_cannot_hold_two_codes_that_read_the_same_secrets(world, ingest):
    text = HEADER + "Shop-B,Shop B,shopify,read_only,WH,0,USD\nshop_b,B,amazon,push,WH,0,USD\n"
    assert rejected(ingest, text) == [
        "channels.csv:3: code: 'shop_b' would read the same secrets (IMS_CHANNEL_SHOP_B_…)"
        " as 'Shop-B' on line 2"
    ]
    assert not Channel.objects.filter(code__iendswith="b").exists()


def test_a_channels_file_still_updates_the_channel_it_names(world, ingest):
    _, result = ingest("channels", HEADER + "shop,Shop renamed,shopify,push,WH;NYC,0,USD\n")
    assert result.updated == 1
    assert Channel.objects.get(code="shop").name == "Shop renamed"


def test_the_admin_form_refuses_a_code_that_reads_an_existing_channels_secrets(
    client, user_with_role, world
):
    client.force_login(user_with_role(Role.SUPERADMIN, "sam"))
    form = {
        "code": "SHOP",
        "name": "Shop again",
        "kind": "shopify",
        "sync_mode": "read_only",
        "buffer_units": "0",
        "share_pct": "100",
        "zero_at": "0",
        "currency": "USD",
        "channel_locations-TOTAL_FORMS": "0",
        "channel_locations-INITIAL_FORMS": "0",
    }
    response = client.post("/admin/channels/channel/add/", form)
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert errors["code"] == [
        "'SHOP' would read the same secrets (IMS_CHANNEL_SHOP_…) as channel 'shop'"
    ]
    assert not Channel.objects.filter(code="SHOP").exists()

    response = client.post("/admin/channels/channel/add/", {**form, "code": "shop-2"})
    assert response.status_code == 302
    assert Channel.objects.filter(code="shop-2").exists()


def test_the_admin_form_still_saves_a_channel_under_its_own_code(client, user_with_role, world):
    client.force_login(user_with_role(Role.SUPERADMIN, "sam"))
    shop = Channel.objects.get(code="shop")
    response = client.post(
        f"/admin/channels/channel/{shop.pk}/change/",
        {
            "code": "shop",
            "name": "Shop renamed",
            "kind": "shopify",
            "sync_mode": "push",
            "buffer_units": "0",
            "share_pct": "100",
            "zero_at": "0",
            "currency": "USD",
            "channel_locations-TOTAL_FORMS": "0",
            "channel_locations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Channel.objects.get(code="shop").name == "Shop renamed"


def test_the_database_refuses_two_codes_that_read_the_same_secrets(world):
    with pytest.raises(IntegrityError):
        Channel.objects.create(code="Shop", name="x", kind="shopify", currency="USD")
