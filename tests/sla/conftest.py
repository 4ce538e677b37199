"""Fixtures for the SLA engine: a New York store open 9–18 Monday to Friday, a channel that
sells from it, a 2-business-hour dispatch policy with a three-rung ladder, and people."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ims.roles import Role
from inventory.models import Location
from orders.providers.base import LineIn, OrderIn
from orders.services.intake import order_receive
from sla.models import (
    BusinessCalendar,
    EscalationStep,
    LocationStaff,
    OpeningHours,
    SlaKind,
    SlaPolicy,
)

NY = ZoneInfo("America/New_York")


def ny(*args) -> dt.datetime:
    """A New York wall time as an aware UTC instant."""
    return dt.datetime(*args, tzinfo=NY).astimezone(dt.UTC)


@pytest.fixture
def store(world, ingest):
    """Channel `local` sells from the NYC store only; the store works 9–18 Mon–Fri, New York
    time, closed on US public holidays. The default policies are there (the migration's; a
    transactional test before may have flushed them)."""
    import importlib

    from django.apps import apps

    importlib.import_module("sla.migrations.0003_default_policies").create(apps, None)
    ingest(
        "channels",
        """
        code,name,kind,sync_mode,locations,safety_buffer,currency
        shop,Shop,shopify,push,WH;NYC,0,USD
        market,Market,amazon,read_only,WH,2,USD
        local,Local,flipkart,push,NYC,0,USD
        """,
    )
    ingest(
        "inventory",
        """
        sku_id,location,quantity
        A-1,NYC,500
        B-2,WH,500
        """,
    )
    nyc = Location.objects.get(code="NYC")
    calendar = BusinessCalendar.objects.create(
        location=nyc, timezone="America/New_York", holiday_country="US", holiday_subdivision="NY"
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(calendar=calendar, weekday=day, opens=dt.time(9), closes=dt.time(18))
        for day in range(5)
    )
    return nyc


@pytest.fixture
def people(user_with_role, store):
    clerk = user_with_role(Role.STORE_STAFF, "clerk")
    LocationStaff.objects.create(location=store, user=clerk)
    return {
        "clerk": clerk,
        "other_clerk": user_with_role(Role.STORE_STAFF, "elsewhere"),
        "ops": user_with_role(Role.OPS, "hq-ops"),
        "admin": user_with_role(Role.ADMIN, "boss"),
    }


@pytest.fixture
def dispatch_policy(store):
    """Only a dispatch SLA (the default policies are set aside): 2 business hours, warn at
    75 %, ladder store at warning → HQ ops at breach → admin 1 hour after breach."""
    from channels.models import Channel

    SlaPolicy.objects.filter(channel__isnull=True).update(active=False)
    policy = SlaPolicy.objects.create(
        channel=Channel.objects.get(code="local"),
        kind=SlaKind.DISPATCH,
        target=dt.timedelta(hours=2),
        business_hours=True,
        warning_pct=75,
    )
    EscalationStep.objects.bulk_create(
        [
            EscalationStep(policy=policy, position=1, anchor="warning", recipient="location"),
            EscalationStep(
                policy=policy, position=2, anchor="breach", recipient="role", role=Role.OPS.value
            ),
            EscalationStep(
                policy=policy,
                position=3,
                anchor="breach",
                offset=dt.timedelta(hours=1),
                recipient="role",
                role=Role.ADMIN.value,
            ),
        ]
    )
    return policy


@pytest.fixture
def place():
    """place(external_id, at, channel='local', sku='A-1', quantity=1, phone='') → order."""
    from channels.models import Channel

    def go(external_id: str, at: dt.datetime, *, channel="local", sku="A-1", quantity=1, phone=""):
        order, _ = order_receive(
            channel=Channel.objects.get(code=channel),
            incoming=OrderIn(
                external_id=external_id,
                name=f"#{external_id}",
                placed_at=at,
                lines=(LineIn(external_id="1", sku=sku, quantity=quantity),),
                customer_name="Asha",
                customer_phone=phone,
            ),
            now=at,
        )
        return order

    return go
