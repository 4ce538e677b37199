"""`init`: a retailer's starting configuration, written into a folder.

`config_init` writes the locations, channels and ERP-sources files `ingest` takes (every
channel in `dry_run`: it plans and sends nothing), an `.env.template` naming every variable
the configured channels and ERP read, and `README-init.md` with what is left to do; then it
checks, read-only, each connection it can reach (a base URL and the required credentials
set) through the channel's or ERP's own adapter. It refuses, writing nothing, when one of
its files exists (unless `force`). `config_apply` ingests the written files.

The variables come from the adapters' own declarations (`credentials`, `optional_settings`
on each channel adapter and the Amazon queue, `credentials` on each ERP adapter, `settings`
on each order provider), so the template cannot drift from what the code reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from channels.adapters import ADAPTERS, FILE_ADAPTER, QUEUES, adapter_class
from channels.adapters.base import AdapterConfig
from channels.models import ChannelKind, secrets_name
from erp.adapters import adapter_class as erp_adapter_class
from erp.adapters.base import SourceConfig
from erp.models import FILE_KINDS, ErpKind
from ims.csvio import write_csv
from ims.errors import ApplicationError
from orchestration.ingest import ingest_file
from orchestration.management.commands.setup_schedules import SCHEDULES
from orders.providers import provider_for

LOCATIONS_FILE = "locations.csv"
CHANNELS_FILE = "channels.csv"
ERP_SOURCES_FILE = "erp_sources.csv"
ENV_FILE = ".env.template"
README_FILE = "README-init.md"

# (ingest kind, file), in the order they are ingested: channels and ERP sources name locations.
FILES = (
    ("locations", LOCATIONS_FILE),
    ("channels", CHANNELS_FILE),
    ("erp_sources", ERP_SOURCES_FILE),
)

WAREHOUSE = "WH"
STORE = "STORE1"
# Kinds that sell at a till: they sell from a store; the others from the warehouse.
STORE_KINDS = {ChannelKind.SQUARE, ChannelKind.LIGHTSPEED, ChannelKind.POS}
# Where each live channel's base_url points (README, "Channel connectors": Systems).
BASE_URL_FORM = {
    "shopify": "https://<shop>.myshopify.com",
    "amazon": "https://sellingpartnerapi-na.amazon.com (or -eu, -fe)",
    "woocommerce": "https://<store>",
    "bigcommerce": "https://api.bigcommerce.com/stores/<hash>",
    "flipkart": "https://api.flipkart.net/sellers",
    "square": "https://connect.squareup.com",
    "lightspeed": "https://<prefix>.retail.lightspeed.app",
}
# An ERP's settings that are not secret, in its `options` (erp/adapters/<kind>.py).
ERP_OPTIONS = {
    "netsuite": {"account": ""},
    "odoo": {"database": ""},
    "sap_b1": {"company_db": ""},
    "fishbowl": {"location_groups": {}},
}
ERP_BASE_URL_FORM = {
    "netsuite": "https://<account>.suitetalk.api.netsuite.com",
    "odoo": "https://<company>.odoo.com",
    "sap_b1": "https://<server>:50000/b1s/v1",
    "fishbowl": "https://<server>:<port>",
}
ERP_SCHEDULE = "06:00"
# Orders that reach IMS without a webhook (Flipkart's are polled, Amazon's read from its SQS
# queue and polled): their webhook secret serves only a relay posting IMS's own form.
WEBHOOK_OPTIONAL = {ChannelKind.FLIPKART, ChannelKind.AMAZON}


class InitRefused(ApplicationError):
    code = "init_refused"


@dataclass(frozen=True)
class Variable:
    """One environment variable the configuration reads: its full name, whether the
    connection needs it, and what reads it."""

    name: str
    required: bool
    reader: str
    # The adapter's own credential: a connection check needs it.
    connects: bool = False


@dataclass(frozen=True)
class Planned:
    """A channel or the ERP as init writes it."""

    code: str
    kind: str
    base_url: str
    variables: tuple[Variable, ...]
    erp: bool = False

    @property
    def label(self) -> str:
        return f"{'ERP' if self.erp else 'channel'} {self.code} ({self.kind})"

    def missing(self, environ: Mapping[str, str], *, to_connect: bool = False) -> list[str]:
        return [
            v.name
            for v in self.variables
            if v.required and (v.connects or not to_connect) and not environ.get(v.name)
        ]


@dataclass(frozen=True)
class Check:
    """A connection check: `ok` True (reached), False (failed: `detail` says why) or None
    (not tried: `detail` says what is missing)."""

    label: str
    ok: bool | None
    detail: str


@dataclass
class InitResult:
    directory: Path
    written: list[Path] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    checklist: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# What each kind reads


def channel_variables(kind: str, code: str) -> tuple[Variable, ...]:
    """Every IMS_CHANNEL_<CODE>_<NAME> a channel of this kind reads: its adapter's (a kind
    without a live connector: the file drop's), its order provider's (webhook secret, the
    URL a provider signs, the order poll's switch) and its order queue's (Amazon's SQS)."""
    prefix = "IMS_CHANNEL_" + secrets_name(code) + "_"
    live = kind in ADAPTERS and kind != FILE_ADAPTER
    adapter = adapter_class(kind if live else FILE_ADAPTER)
    found: dict[str, Variable] = {}

    def add(names, *, required: bool, reader: str, connects: bool = False) -> None:
        for name in names:
            found.setdefault(name, Variable(prefix + name, required, reader, connects))

    add(adapter.credentials, required=True, reader=f"the {adapter.kind} adapter", connects=True)
    add(adapter.optional_settings, required=False, reader=f"the {adapter.kind} adapter")
    provider = provider_for(kind)
    if provider is not None:
        # orders.services.inbox: webhook_secret, webhook_url; orders.services.poll.
        add(("WEBHOOK_SECRET",), required=kind not in WEBHOOK_OPTIONAL, reader="webhooks")
        add(getattr(provider, "settings", ()), required=False, reader="webhooks")
        add(("WEBHOOK_URL",), required=False, reader="webhooks")
        if hasattr(provider, "polled"):
            add(("ORDER_POLL",), required=False, reader="the order poll")
    if kind in QUEUES:
        module, name = QUEUES[kind].rsplit(".", 1)
        queue = getattr(import_module(module), name)
        add(queue.credentials, required=False, reader="the order queue")
        add(queue.optional_settings, required=False, reader="the order queue")
    return tuple(found.values())


def erp_variables(kind: str, code: str) -> tuple[Variable, ...]:
    """Every IMS_ERP_<CODE>_<NAME> an ERP source of this kind reads (its adapter's secrets)."""
    config = SourceConfig(code=code, kind=kind, base_url="")
    adapter = erp_adapter_class(kind)
    return tuple(
        Variable(config.env_prefix + name, True, f"the {kind} adapter", connects=True)
        for name in adapter.credentials
    )


def _codes(kinds: Sequence[str]) -> list[tuple[str, str]]:
    """(code, kind): the kind itself, then kind-2, kind-3 … for a kind given again."""
    seen: dict[str, int] = {}
    out = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        out.append((kind if seen[kind] == 1 else f"{kind}-{seen[kind]}", kind))
    return out


def config_plan(
    *, erp: str | None, channels: Sequence[str], urls: Mapping[str, str], directory: Path
) -> list[Planned]:
    """The channels and the ERP init configures; InitRefused names a kind or code it cannot."""
    for kind in channels:
        if kind not in ChannelKind.values:
            raise InitRefused(
                f"--ecom: unknown channel kind '{kind}' (one of {', '.join(ChannelKind.values)})"
            )
    if erp is not None and erp not in ErpKind.values:
        raise InitRefused(f"--erp: unknown ERP kind '{erp}' (one of {', '.join(ErpKind.values)})")
    if erp is None and not channels:
        raise InitRefused("nothing to configure: give --erp KIND and/or --ecom KIND")
    planned = []
    for code, kind in _codes(channels):
        url = urls.get(code, "") if kind in BASE_URL_FORM or code != erp else ""
        if url and kind not in BASE_URL_FORM:
            raise InitRefused(f"--url {code}: a {kind} channel has no base_url (a file drop)")
        if url and not url.startswith(("http://", "https://")):
            raise InitRefused(f"--url {code}: '{url}' is not an http(s) URL")
        planned.append(Planned(code, kind, url, channel_variables(kind, code)))
    if erp is not None:
        url = urls.get(erp, "")
        if not url and erp in FILE_KINDS:
            url = str((directory / "erp-drop").resolve())
        planned.append(Planned(erp, erp, url, erp_variables(erp, erp), erp=True))
    known = {p.code for p in planned}
    for code in urls:
        if code not in known:
            raise InitRefused(f"--url {code}: no such code (one of {', '.join(sorted(known))})")
    return planned


# ---------------------------------------------------------------------------
# The files


def _locations_rows(planned: Sequence[Planned]) -> list[tuple]:
    rows = [(WAREHOUSE, "Main warehouse", "warehouse", "")]
    if any(p.kind in STORE_KINDS for p in planned if not p.erp):
        rows.append((STORE, "Store 1", "store", ""))
    return rows


def _channels_rows(planned: Sequence[Planned], currency: str) -> list[tuple]:
    rows = []
    for p in planned:
        if p.erp:
            continue
        where = STORE if p.kind in STORE_KINDS else WAREHOUSE
        name = ChannelKind(p.kind).label
        rows.append((p.code, name, p.kind, "dry_run", where, "0", currency, p.base_url))
    return rows


def _erp_rows(p: Planned) -> list[tuple]:
    options = json.dumps(ERP_OPTIONS.get(p.kind, {}))
    return [(p.code, ErpKind(p.kind).label, p.kind, p.base_url, "", ERP_SCHEDULE, "erp", options)]


def _env_text(planned: Sequence[Planned]) -> str:
    lines = [
        "# Credentials and settings IMS reads for this configuration (written by `init`).",
        "# Fill in the values, keep the file out of version control, and load it into the",
        "# environment of the web server and the workers. Lines starting with `# ` are",
        "# optional: uncomment one to set it. Never put a secret in the CSV files.",
    ]
    for p in planned:
        lines += ["", f"# --- {p.label}"]
        reader = None
        for v in p.variables:
            if v.reader != reader:
                reader = v.reader
                lines.append(f"# read by {reader}")
            lines.append(f"{'' if v.required else '# '}{v.name}=")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Connection checks (read-only)


def _check(p: Planned, environ: Mapping[str, str]) -> Check:
    missing = p.missing(environ, to_connect=True)
    if p.erp and p.kind in FILE_KINDS:
        folder = Path(p.base_url)
        if folder.is_dir():
            return Check(p.label, True, f"drop folder {folder} exists")
        return Check(p.label, None, f"create the drop folder {folder} (or set base_url)")
    if not p.base_url:
        if not p.erp and p.kind not in BASE_URL_FORM:
            return Check(p.label, None, "a file drop: nothing to reach")
        form = (ERP_BASE_URL_FORM if p.erp else BASE_URL_FORM).get(p.kind, "its URL")
        return Check(p.label, None, f"no base_url yet ({form})")
    if missing:
        return Check(p.label, None, "set " + ", ".join(missing))
    try:
        detail = _read_one(p, environ)
    except Exception as exc:  # what a provider answered, whatever it was, is the finding
        message = getattr(exc, "message", "") or f"{type(exc).__name__}: {exc}"
        return Check(p.label, False, message)
    return Check(p.label, True, detail)


def _read_one(p: Planned, environ: Mapping[str, str]) -> str:
    """Read the first record through the adapter (no write): a listing, or a catalog item."""
    if p.erp:
        adapter = erp_adapter_class(p.kind)(
            SourceConfig(
                code=p.code, kind=p.kind, base_url=p.base_url, options=ERP_OPTIONS.get(p.kind, {})
            )
        )
        try:
            first = next(iter(adapter.fetch_catalog()), None)
        finally:
            adapter.close()
        return f"read its catalog (first item {first.sku})" if first else "reached (no items)"
    config = AdapterConfig(
        code=p.code,
        kind=p.kind,
        base_url=p.base_url.rstrip("/"),
        currency="",
        env_prefix="IMS_CHANNEL_" + secrets_name(p.code) + "_",
        environ=environ,
    )
    adapter = adapter_class(p.kind)(config)
    try:
        first = next(iter(adapter.fetch_snapshot()), None)
    finally:
        adapter.close()
    return f"read its listings (first {first.sku})" if first else "reached (no listings yet)"


# ---------------------------------------------------------------------------
# The checklist


def _checklist(
    planned: Sequence[Planned], checks: Sequence[Check], environ: Mapping[str, str]
) -> list[str]:
    items = []
    for p, check in zip(planned, checks, strict=True):
        missing = p.missing(environ)
        if missing:
            items.append(f"{p.label}: set {', '.join(missing)} (see {ENV_FILE})")
        if not p.base_url and (p.erp or p.kind in BASE_URL_FORM):
            form = (ERP_BASE_URL_FORM if p.erp else BASE_URL_FORM).get(p.kind, "its URL")
            where = ERP_SOURCES_FILE if p.erp else CHANNELS_FILE
            items.append(
                f"{p.label}: set base_url in {where} ({form}), or run init again with "
                f"--url {p.code}=URL --force"
            )
        if check.ok is False:
            items.append(f"{p.label}: the connection check failed: {check.detail}")
        elif check.ok is None and p.erp and p.kind in FILE_KINDS:
            items.append(f"{p.label}: {check.detail}")
        empty = [k for k, v in ERP_OPTIONS.get(p.kind, {}).items() if not v] if p.erp else []
        if empty:
            items.append(f"{p.label}: fill options {', '.join(empty)} in {ERP_SOURCES_FILE}")
    if any(p.erp for p in planned):
        items.append(f"{LOCATIONS_FILE}: set each location's erp_code to the ERP's own code for it")
    channels = [p for p in planned if not p.erp]
    if channels:
        items.append(
            "dry run first: `python manage.py sync --mode dry_run` writes sync-plan.csv and "
            "sends nothing; review it"
        )
        items.append(
            f"then set sync_mode to push in {CHANNELS_FILE} for the channels that may write, "
            f"and ingest it again"
        )
    items.append("start the workers (`python manage.py qcluster`, IMS_QUEUE=orm)")
    return items


def _commands(directory: Path, files: Sequence[tuple[str, str]]) -> list[str]:
    folder = directory.resolve()
    return [f"python manage.py ingest {kind} {folder / name}" for kind, name in files] + [
        "python manage.py setup_schedules"
    ]


def _readme(result: InitResult, planned: Sequence[Planned]) -> str:
    lines = ["# IMS starting configuration (written by `python manage.py init`)", ""]
    lines += ["## Configured", ""]
    lines += [f"- {p.label}" + (f": {p.base_url}" if p.base_url else "") for p in planned]
    lines += ["", "## Connection checks", ""]
    for check in result.checks:
        state = {True: "ok", False: "FAILED", None: "not checked"}[check.ok]
        lines.append(f"- {check.label}: {state}: {check.detail}")
    lines += ["", "## Apply it", "", "```", *result.commands, "```", ""]
    lines += ["## What is left", ""] + [f"- [ ] {item}" for item in result.checklist]
    lines += ["", "## Schedules (`setup_schedules` registers them)", ""]
    lines += [f"- {name}" for name in SCHEDULES]
    if any(p.erp for p in planned):
        lines.append(f"- the ERP's night at {ERP_SCHEDULE} UTC (`schedule` in {ERP_SOURCES_FILE})")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------


def config_init(
    *,
    directory: str | Path,
    erp: str | None = None,
    channels: Sequence[str] = (),
    urls: Mapping[str, str] | None = None,
    currency: str = "USD",
    force: bool = False,
    environ: Mapping[str, str] | None = None,
) -> InitResult:
    """Write the starting configuration into `directory`, check what it can reach, and say
    what is left. Refuses (InitRefused, nothing written) when a file it writes exists,
    unless `force`."""
    environ = os.environ if environ is None else environ
    directory = Path(directory)
    planned = config_plan(erp=erp, channels=channels, urls=urls or {}, directory=directory)
    has = {"locations": True, "channels": any(not p.erp for p in planned), "erp_sources": erp}
    files = [(kind, name) for kind, name in FILES if has[kind]]
    targets = [directory / name for _kind, name in files] + [
        directory / ENV_FILE,
        directory / README_FILE,
    ]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not force:
        raise InitRefused(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            "nothing was written (--force overwrites)",
            extra={"files": existing},
        )
    result = InitResult(directory=directory)
    result.checks = [_check(p, environ) for p in planned]
    result.checklist = _checklist(planned, result.checks, environ)
    result.commands = _commands(directory, files)

    directory.mkdir(parents=True, exist_ok=True)
    write_csv(
        directory / LOCATIONS_FILE, ("code", "name", "kind", "erp_code"), _locations_rows(planned)
    )
    if ("channels", CHANNELS_FILE) in files:
        write_csv(
            directory / CHANNELS_FILE,
            (
                "code",
                "name",
                "kind",
                "sync_mode",
                "locations",
                "safety_buffer",
                "currency",
                "base_url",
            ),
            _channels_rows(planned, currency),
        )
    for p in planned:
        if p.erp:
            write_csv(
                directory / ERP_SOURCES_FILE,
                (
                    "code",
                    "name",
                    "kind",
                    "base_url",
                    "locations",
                    "schedule",
                    "alias_scope",
                    "options",
                ),
                _erp_rows(p),
            )
    (directory / ENV_FILE).write_text(_env_text(planned), encoding="utf-8")
    (directory / README_FILE).write_text(_readme(result, planned), encoding="utf-8")
    result.written = targets
    return result


def config_apply(*, directory: str | Path, actor=None) -> list[tuple[str, str]]:
    """Ingest the files init wrote, in order; [(kind, what it did)]. FileRejected as ingest."""
    directory = Path(directory)
    done = []
    for kind, name in FILES:
        path = directory / name
        if not path.exists():
            continue
        _run, result = ingest_file(kind=kind, path=path, actor=actor)
        done.append(
            (
                kind,
                f"{result.rows} rows, {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged",
            )
        )
    return done
