"""ims.rows writes and reads rows as the ORM would, in plain statements sent together."""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from decimal import Decimal

import pytest

from ims.rows import (
    Statement,
    build,
    clone,
    insert_statement,
    row_update,
    rows_insert,
    rows_select,
    statements_run,
    update_statement,
    writes_run,
)
from orders.models import ChannelOrder, OrderLine, WebhookDelivery

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=dt.UTC)


def delivery(channel, delivery_id="d-1"):
    return WebhookDelivery(
        channel=channel,
        provider="shopify",
        delivery_id=delivery_id,
        topic="orders/create",
        headers={"x-shopify-topic": "orders/create", "note": "50% off 'today'"},
        body=b'{"id": 1, "bytes": "\\u00e9"}\x00\xff',
        received_at=NOW,
    )


def test_an_inserted_row_reads_back_as_the_orm_wrote_it(world):
    from channels.models import Channel

    shop = Channel.objects.get(code="shop")
    row = delivery(shop)
    assert rows_insert([row]) == [row] and row.pk
    stored = WebhookDelivery.objects.get(pk=row.pk)
    assert stored.headers == row.headers
    assert bytes(stored.body) == row.body
    assert stored.received_at == NOW
    assert (stored.attempts, stored.processed_at, stored.order_id) == (0, None, None)


def test_a_row_breaking_a_unique_constraint_is_skipped(world):
    from channels.models import Channel

    shop = Channel.objects.get(code="shop")
    first = delivery(shop)
    rows_insert([first], unique=("channel", "delivery_id"))
    twin = delivery(shop)
    assert rows_insert([twin], unique=("channel", "delivery_id")) == []
    assert twin.pk is None
    assert WebhookDelivery.objects.count() == 1


def test_statements_run_in_order_and_return_each_ones_rows(world):
    from channels.models import Channel

    shop = Channel.objects.get(code="shop")
    order = ChannelOrder(
        channel=shop, external_id="X1", status="reserved", placed_at=NOW, received_at=NOW
    )
    rows_insert([order])
    # Values with quotes, % and a semicolon travel inside the one multi-statement query.
    lines = [
        OrderLine(order=order, position=i, sku=f"S{i}", quantity=2, reserved=2, unit_price=p)
        for i, p in enumerate([Decimal("19.99"), None])
    ]
    lines[1].external_id = "it's 100%; DROP TABLE x --"
    order.status = "backordered"
    results = statements_run(
        [
            insert_statement(lines),
            update_statement(order, ["status"]),
            Statement(
                "SELECT sku FROM orders_orderline WHERE order_id = %s ORDER BY position",
                [order.pk],
            ),
        ]
    )
    assert results[1] == [] and results[2] == [("S0",), ("S1",)]
    assert [ln.pk for ln in lines] == list(
        OrderLine.objects.order_by("position").values_list("pk", flat=True)
    )
    assert list(OrderLine.objects.order_by("position").values_list("unit_price", flat=True)) == [
        Decimal("19.99"),
        None,
    ]
    assert OrderLine.objects.get(position=1).external_id == "it's 100%; DROP TABLE x --"
    assert ChannelOrder.objects.get().status == "backordered"
    order.status = "reserved"
    row_update(order, ["status"])
    (found,) = rows_select(ChannelOrder, "id = %s", [order.pk])
    assert (found.pk, found.status, found.received_at) == (order.pk, "reserved", NOW)


def test_a_failing_statement_among_others_raises(world):
    from django.db import IntegrityError, transaction

    from channels.models import Channel

    shop = Channel.objects.get(code="shop")
    with pytest.raises(IntegrityError), transaction.atomic():
        statements_run([insert_statement([delivery(shop)]), insert_statement([delivery(shop)])])
    assert not WebhookDelivery.objects.exists()


def prepared_statements() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'ims_%%'")
        return sorted(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_on_postgresql_a_statement_is_prepared_once_and_then_executed(world, settings):
    from channels.models import Channel

    settings.IMS_DB_PREPARE = True
    shop = Channel.objects.get(code="shop")
    rows_insert([delivery(shop, "d-1"), delivery(shop, "d-2")])
    before = prepared_statements()
    # A LIKE pattern's %% is the database's %, as when psycopg binds it.
    count = Statement(
        "SELECT count(*) FROM orders_webhookdelivery "
        "WHERE channel_id = %s AND delivery_id LIKE %s || '%%' /* prepared once */",
        [shop.pk, "d-"],
    )
    assert [statements_run([count])[0] for _ in range(3)] == [[(2,)]] * 3
    assert len(prepared_statements()) == len(before) + 1


@pytest.mark.postgres
def test_on_postgresql_a_failed_batch_leaves_later_statements_working(world, settings):
    """A batch that fails part-way leaves it unknown which of its statements were prepared;
    the next one starts afresh rather than preparing a name twice."""
    from django.db import IntegrityError, transaction

    from channels.models import Channel

    settings.IMS_DB_PREPARE = True
    shop = Channel.objects.get(code="shop")
    with pytest.raises(IntegrityError), transaction.atomic():
        statements_run(
            [
                insert_statement([delivery(shop)]),
                insert_statement([delivery(shop)]),
                update_statement(shop, ["name"]),  # never reached: its PREPARE never ran
            ]
        )
    shop.name = "Shop again"
    row_update(shop, ["name"])
    rows_insert([delivery(shop)])
    assert Channel.objects.get(code="shop").name == "Shop again"
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.postgres
def test_with_ims_db_prepare_off_nothing_is_prepared(world, settings):
    from channels.models import Channel

    settings.IMS_DB_PREPARE = False
    before = prepared_statements()
    rows_insert([delivery(Channel.objects.get(code="shop"))])
    assert prepared_statements() == before
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.postgres
def test_values_travel_exactly_whatever_their_characters(world):
    """Quotes, backslashes, %, ;, accents and emoji, exponents and time zones come back as sent
    (on PostgreSQL the values are written into the query as literals)."""
    texts = ["it's", "C:\\path\\n", "100% ; --", "Crème brûlée ☕", "", "$1 ''"]
    numbers = [Decimal("19.99"), Decimal("1E+2"), Decimal("-0.001")]
    moment = dt.datetime(2026, 3, 29, 1, 30, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    marks = ", ".join(["CAST(%s AS text)"] * len(texts) + ["CAST(%s AS numeric)"] * len(numbers))
    (row,) = statements_run(
        [Statement(f"SELECT {marks}, %s, %s, %s, %s", [*texts, *numbers, moment, True, 7, None])]
    )[0]
    assert list(row[: len(texts)]) == texts
    assert list(row[len(texts) : -4]) == numbers
    assert row[-4:] == (moment, True, 7, None)


@pytest.mark.postgres
def test_a_text_with_a_nul_character_is_refused(world):
    from django.db import DataError

    with pytest.raises(DataError):
        statements_run([Statement("SELECT CAST(%s AS text)", ["a\x00b"])])


def test_build_makes_the_instance_the_model_makes(world):
    from channels.models import Channel
    from sla.models import SlaClock

    shop = Channel.objects.get(code="shop")
    order = ChannelOrder.objects.create(
        channel=shop, external_id="B1", status="reserved", placed_at=NOW, received_at=NOW
    )
    for model, values in [
        (WebhookDelivery, {"channel": shop, "delivery_id": "d", "body": b"{}", "received_at": NOW}),
        (OrderLine, {"order": order, "position": 0, "sku": "S", "quantity": 1, "product_id": None}),
        (SlaClock, {"order": order, "kind": "dispatch", "channel_id": shop.pk, "started_at": NOW}),
    ]:
        fast, orm = build(model, **values), model(**values)
        assert {k: v for k, v in vars(fast).items() if k != "_state"} == {
            k: v for k, v in vars(orm).items() if k != "_state"
        }
        assert fast._state.adding and fast._state.db is None
    line = build(OrderLine, order=order, position=1, sku="S", quantity=1)
    assert line.order_id == order.pk and line.order is order  # kept, not read again
    with pytest.raises(TypeError, match="no field 'colour'"):
        build(OrderLine, colour="red")


def test_a_datetime_is_stored_as_the_orm_stores_it_whatever_its_zone(world):
    """An aware datetime goes in as it is; a naive one takes Django's way (and its warning):
    either way the row holds what a save() would, found by the same filter."""
    from channels.models import Channel

    shop = Channel.objects.get(code="shop")
    aware = dt.datetime(2026, 3, 29, 1, 30, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    naive = aware.astimezone(dt.UTC).replace(tzinfo=None)
    for n, moment in enumerate([aware, naive]):
        ours, theirs = delivery(shop, f"rows-{n}"), delivery(shop, f"orm-{n}")
        ours.received_at = theirs.received_at = moment
        with pytest.warns(RuntimeWarning) if moment is naive else nullcontext():
            rows_insert([ours])
        with pytest.warns(RuntimeWarning) if moment is naive else nullcontext():
            theirs.save()
        stored = WebhookDelivery.objects.get(pk=ours.pk).received_at
        assert stored == WebhookDelivery.objects.get(pk=theirs.pk).received_at == aware
    assert WebhookDelivery.objects.filter(received_at=aware).count() == 4


def test_writes_run_together_set_each_inserts_keys_in_row_order(world):
    """Inserts and updates that do not read one another's writes run as one statement on
    PostgreSQL (one after the other elsewhere); each insert's rows get their keys, and a row
    skipped for a unique conflict keeps none. Each statement's returned keys come back."""
    from channels.models import Channel

    shop = Channel.objects.get(code="shop")
    rows_insert([delivery(shop, "stored")])
    fresh = [delivery(shop, f"d-{n}") for n in range(3)]
    again = delivery(shop, "stored")
    shop.name = "Renamed with them"
    returned = writes_run(
        [
            insert_statement(fresh),
            update_statement(shop, ["name"]),
            insert_statement([again], unique=("channel", "delivery_id")),
        ]
    )
    assert returned == [[d.pk for d in fresh], [], []]
    assert [WebhookDelivery.objects.get(pk=d.pk).delivery_id for d in fresh] == [
        "d-0",
        "d-1",
        "d-2",
    ]
    assert again.pk is None and again._state.adding
    assert Channel.objects.get(pk=shop.pk).name == "Renamed with them"


def test_writes_run_refuses_a_read(world):
    with pytest.raises(ValueError, match="inserts and updates"):
        writes_run([Statement("SELECT 1", []), Statement("SELECT 2", [])])


def test_clone_is_a_shallow_copy_with_its_own_state(world):
    from channels.models import Channel

    shop = Channel.objects.get(code="shop")
    row = delivery(shop)
    row.save()
    twin = clone(row)
    assert twin is not row and twin == row and twin.__dict__.keys() == row.__dict__.keys()
    assert twin.channel is row.channel  # the related instance cached, as copy.copy keeps it
    twin.order = ChannelOrder(pk=99, channel=shop)
    twin._state.adding = True
    assert row.order is None and not row._state.adding
    assert (twin._state.db, twin.headers) == (row._state.db, row.headers)


@pytest.mark.postgres
def test_a_statement_prepared_with_a_naive_datetime_takes_an_aware_one_exactly(world):
    """A naive datetime is read in the session's zone (UTC), as psycopg's binding has it; an
    aware one later in the same prepared statement keeps its offset."""
    aware = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    naive = dt.datetime(2026, 3, 28, 20, 30)  # the same moment, in UTC
    same = "SELECT CAST(%s AS timestamptz) /* naive, then aware */"
    assert statements_run([Statement(same, [naive])])[0] == [(aware,)]
    assert statements_run([Statement(same, [aware])])[0] == [(aware,)]
