"""What each channel offers (PRODUCT.md "Channel assortment and quantity policy"): per channel
and product, `publish` (no row: offered) and the product's own cap there (`max_units`, no row:
none). Ops set it for many products at once (a page, the API) or by file (`ingest
assortment`); each change is audited and the products it touches are queued for a stock push
to that channel, as a stock change queues them (PendingPush), so a withheld product goes to 0
there on the next flush."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import Product
from channels.models import Channel, ChannelAssortment, PendingPush, SyncMode
from ims.audit import Change, audit_record_many
from ims.csvio import CsvSource, IngestResult, Row, column_lengths, parse_quantity
from ims.errors import ApplicationError, FileRejected
from ims.permissions import require
from ims.tasks import enqueue

ASSORTMENT_COLUMNS = ("channel", "sku_id", "publish")
ASSORTMENT_OPTIONAL = ("max_units",)
# What a row reads when there is none: every product is offered, with no cap of its own.
DEFAULT = (True, None)
CHUNK = 5000
# How many SKUs an audit event names (the count is always there).
AUDIT_SKUS = 200


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass
class _Written:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def assortment_set(
    *,
    channel: Channel,
    products: QuerySet[Product] | Iterable[int],
    publish: bool | None = None,
    max_units: int | _Unset | None = UNSET,
    actor,
    reason: str = "",
) -> int:
    """Offer or withhold these products on the channel and/or set their cap there (None: no cap
    of their own); `publish` None and `max_units` UNSET leave that value as it is. One audit
    event names the channel, how many products changed and the new values; the changed ones are
    queued for a stock push to the channel. Returns how many products changed."""
    require(actor, "channels.change_channelassortment", "change what a channel offers")
    if publish is None and max_units is UNSET:
        raise ApplicationError(
            "Choose Offer or Withhold, or a product cap: nothing to change.",
            code="nothing_to_change",
            extra={"fields": {"publish": ["Choose offer or withhold, or set a product cap."]}},
        )
    if max_units is not UNSET and max_units is not None and max_units < 0:
        raise ApplicationError(
            "A product cap is a whole number of units, 0 or more.",
            extra={"fields": {"max_units": ["A whole number of units, 0 or more."]}},
        )
    if isinstance(products, QuerySet):
        ids = list(products.order_by().values_list("pk", flat=True))
    else:
        ids = [int(p) for p in products]
    ids = sorted(set(ids))
    with transaction.atomic():
        current = _current(channel, ids)
        wanted = {}
        for pid in ids:
            was_publish, was_cap = current.get(pid, DEFAULT)
            wanted[pid] = (
                was_publish if publish is None else publish,
                was_cap if max_units is UNSET else max_units,
            )
        _, changed = _write(channel, wanted, current)
        if changed:
            after = {"products": len(changed)}
            if publish is not None:
                after["publish"] = publish
            if max_units is not UNSET:
                after["max_units"] = max_units
            audit_record_many(
                actor=actor,
                changes=[_summary(channel, changed, after, reason)],
            )
    return len(changed)


def _current(channel: Channel, ids: list[int]) -> dict[int, tuple[bool, int | None]]:
    found = {}
    for start in range(0, len(ids), CHUNK):
        for pid, publish, cap in ChannelAssortment.objects.filter(
            channel=channel, product_id__in=ids[start : start + CHUNK]
        ).values_list("product_id", "publish", "max_units"):
            found[pid] = (publish, cap)
    return found


def _write(
    channel: Channel,
    wanted: dict[int, tuple[bool, int | None]],
    current: dict[int, tuple[bool, int | None]],
) -> tuple[_Written, list[int]]:
    """Upsert the rows whose effective value changes, in one statement per chunk, and queue
    those products' push. Returns the counts and the changed product ids."""
    written = _Written()
    changed = []
    rows = []
    for pid, (publish, cap) in sorted(wanted.items()):
        if current.get(pid, DEFAULT) == (publish, cap):
            written.unchanged += 1
            continue
        changed.append(pid)
        if pid in current:
            written.updated += 1
        else:
            written.created += 1
        rows.append(
            ChannelAssortment(channel=channel, product_id=pid, publish=publish, max_units=cap)
        )
    ChannelAssortment.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["channel", "product"],
        update_fields=["publish", "max_units", "updated_at"],
    )
    assortment_push_queue(channel=channel, product_ids=changed)
    return written, changed


def assortment_push_queue(*, channel: Channel, product_ids: list[int]) -> None:
    """Queue these products' stock push to this channel (the queue a stock change fills:
    PendingPush, flushed each minute, or once the transaction commits with the in-process
    queue). A read-only channel is sent nothing."""
    if not product_ids or channel.sync_mode == SyncMode.READ_ONLY:
        return
    now = timezone.now()
    PendingPush.objects.bulk_create(
        [PendingPush(channel=channel, product_id=pid, since=now) for pid in product_ids],
        batch_size=1000,
        ignore_conflicts=True,
    )
    if settings.Q_CLUSTER.get("sync"):
        transaction.on_commit(lambda: enqueue("channels.tasks.sync_pending_task", channel.pk))


def _summary(channel: Channel, changed: list[int], after: dict, reason: str) -> Change:
    skus = list(
        Product.objects.filter(pk__in=changed[:AUDIT_SKUS])
        .order_by("sku")
        .values_list("sku", flat=True)
    )
    return Change(
        "channel_assortment_set",
        channel,
        after={**after, "skus": skus, "more_skus": max(0, len(changed) - len(skus))},
        reason=reason,
    )


# ---------------------------------------------------------------------------
# The file: channel,sku_id,publish,max_units


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value == "yes":
        return True
    if value == "no":
        return False
    raise ValueError(f"'{text}' is not yes or no")


@transaction.atomic
def assortment_ingest(*, path, label: str | None = None, actor=None) -> IngestResult:
    """Set what each channel offers from a file; one bad cell refuses the whole file."""
    require(actor, "channels.change_channelassortment", "change what a channel offers")
    source = CsvSource(
        path,
        required=ASSORTMENT_COLUMNS,
        optional=ASSORTMENT_OPTIONAL,
        label=label,
        lengths=column_lengths(Product, sku_id="sku") | column_lengths(Channel, channel="code"),
    )
    channels = {c.code: c for c in Channel.objects.all()}
    seen: dict[tuple[str, str], int] = {}
    parsed: list[tuple[Row, Channel | None, str, bool, int | None]] = []
    for line, values in source:
        row = Row(source, line, values)
        code, sku = row.required("channel"), row.required("sku_id")
        channel = channels.get(code) if code else None
        if code and channel is None:
            row.fail("channel", f"unknown channel '{code}'")
        if code and sku:
            if (code, sku) in seen:
                row.fail("sku_id", f"'{sku}' on {code} is also on line {seen[(code, sku)]}")
            else:
                seen[(code, sku)] = line
        publish = row.parse("publish", _yes_no)
        cap = row.parse("max_units", parse_quantity, required=False)
        parsed.append((row, channel, sku or "", publish, cap))
    skus = {sku for _, _, sku, _, _ in parsed if sku}
    products: dict[str, int] = {}
    for chunk in _chunks(sorted(skus)):
        products.update(Product.objects.filter(sku__in=chunk).values_list("sku", "pk"))
    for row, _, sku, _, _ in parsed:
        if sku and sku not in products:
            row.fail("sku_id", f"unknown SKU '{sku}'")
    if source.errors:
        raise FileRejected(source.errors)

    by_channel: dict[int, dict[int, tuple[bool, int | None]]] = {}
    for _, channel, sku, publish, cap in parsed:
        by_channel.setdefault(channel.pk, {})[products[sku]] = (publish, cap)
    result = IngestResult()
    changes = []
    for channel in sorted({c for _, c, *_ in parsed}, key=lambda c: c.code):
        wanted = by_channel[channel.pk]
        written, changed = _write(channel, wanted, _current(channel, sorted(wanted)))
        result.rows += len(wanted)
        result.created += written.created
        result.updated += written.updated
        result.unchanged += written.unchanged
        if changed:
            offered = sum(1 for pid in changed if wanted[pid][0])
            after = {
                "products": len(changed),
                "offered": offered,
                "withheld": len(changed) - offered,
            }
            changes.append(_summary(channel, changed, after, f"ingest {source.label}"))
    audit_record_many(actor=actor, changes=changes)
    return result


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]
