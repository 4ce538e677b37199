"""The ERP sources file (`ingest erp_sources FILE`): which ERPs IMS reads from, all or nothing.

Columns `code,name,kind`, optional `base_url` (an API's root, or a file source's folder),
`locations` (`;`-separated IMS location codes the source is the authority for; blank: every
location), `schedule` (its night, HH:MM UTC; blank: none), `alias_scope` (default `erp`) and
`options` (a JSON object: NetSuite's `account`, Odoo's `database`, …). Secrets are never in
the file: they come from the environment (IMS_ERP_<CODE>_<NAME>).
"""

from __future__ import annotations

import json
import re

from django.db import transaction

from erp.models import ErpKind, ErpSource
from ims.audit import Change, audit_record_many
from ims.csvio import CsvSource, IngestResult, Row, column_lengths, split_list
from ims.errors import FileRejected
from inventory.models import Location

ERP_SOURCES_COLUMNS = ("code", "name", "kind")
ERP_SOURCES_OPTIONAL = ("base_url", "locations", "schedule", "alias_scope", "options")

_SCHEDULE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _code(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError(f"'{text}' may hold only letters, digits, '-' and '_'")
    return text


def _kind(text: str) -> str:
    value = text.strip().lower()
    if value not in ErpKind.values:
        raise ValueError(f"'{text}' is not one of {', '.join(ErpKind.values)}")
    return value


def _schedule(text: str) -> str:
    if not _SCHEDULE.match(text):
        raise ValueError(f"'{text}' is not a time HH:MM (UTC)")
    return text


def _options(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError('is not JSON (a JSON object such as {"account": "1234567"})') from None
    if not isinstance(value, dict):
        raise ValueError("is not a JSON object")
    return value


@transaction.atomic
def erp_sources_ingest(*, path, label: str | None = None, actor=None) -> IngestResult:
    source = CsvSource(
        path,
        required=ERP_SOURCES_COLUMNS,
        optional=ERP_SOURCES_OPTIONAL,
        label=label,
        lengths=column_lengths(
            ErpSource, code="code", name="name", base_url="base_url", alias_scope="alias_scope"
        ),
    )
    result = IngestResult()
    locations = dict(Location.objects.values_list("code", "id"))
    seen: dict[str, int] = {}
    parsed = []
    for line, values in source:
        row = Row(source, line, values)
        code = row.parse("code", _code)
        if code in seen:
            row.fail("code", f"duplicate of line {seen[code]}")
        elif code:
            seen[code] = line
        fields = {
            "name": row.required("name"),
            "kind": row.parse("kind", _kind),
            "base_url": row.get("base_url") or "",
            "schedule": row.parse("schedule", _schedule, required=False) or "",
            "alias_scope": row.get("alias_scope") or "erp",
            "options": row.parse("options", _options, required=False) or {},
        }
        codes = row.parse("locations", split_list, required=False) or []
        for location_code in codes:
            if location_code not in locations:
                row.fail("locations", f"unknown location '{location_code}'")
        if len(set(codes)) != len(codes):
            row.fail("locations", "a location is listed twice")
        if row.ok:
            parsed.append((code, fields, sorted(locations[c] for c in codes)))
    if source.errors:
        raise FileRejected(source.errors)

    existing = {s.code: s for s in ErpSource.objects.filter(code__in=seen)}
    changes = []
    for code, fields, location_ids in parsed:
        result.rows += 1
        erp = existing.get(code)
        if erp is None:
            erp = ErpSource.objects.create(code=code, **fields)
            erp.locations.set(location_ids)
            result.created += 1
            changes.append(Change("erp_source_create", erp, after=fields))
            continue
        differs = [k for k, v in fields.items() if getattr(erp, k) != v]
        current = sorted(erp.locations.values_list("pk", flat=True))
        if not differs and current == location_ids:
            result.unchanged += 1
            continue
        before = {k: getattr(erp, k) for k in differs}
        for key in differs:
            setattr(erp, key, fields[key])
        erp.save()
        if current != location_ids:
            erp.locations.set(location_ids)
            before["locations"], fields["locations"] = current, location_ids
            differs.append("locations")
        result.updated += 1
        changes.append(
            Change("erp_source_update", erp, before=before, after={k: fields[k] for k in differs})
        )
    audit_record_many(actor=actor, changes=changes)
    return result
