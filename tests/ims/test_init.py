"""`init`: a retailer's starting configuration in an empty folder, which `ingest` accepts, an
`.env.template` naming every variable the configured adapters read, connection checks (a
fake Shopify on 127.0.0.1), a checklist, and no file overwritten without --force."""

import inspect
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import Schedule

from channels.adapters import ADAPTERS, FILE_ADAPTER, QUEUES
from channels.models import Channel, ChannelKind, secrets_name
from erp.adapters import adapter_class as erp_adapter_class
from erp.models import FILE_KINDS, ErpKind, ErpSource
from inventory.models import Location
from orchestration.management.commands.setup_schedules import SCHEDULES
from orders.providers import provider_for
from standins.shopify import FakeShopify

pytestmark = pytest.mark.django_db

FILES = ("locations.csv", "channels.csv", "erp_sources.csv", ".env.template", "README-init.md")


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch):
    """The tests' environment holds no channel or ERP variable unless a test sets one."""
    import os

    for name in list(os.environ):
        if name.startswith(("IMS_CHANNEL_", "IMS_ERP_")):
            monkeypatch.delenv(name)


def init(*args) -> str:
    out = StringIO()
    call_command("init", *args, stdout=out)
    return out.getvalue()


def ingest(folder: Path, *kinds: str) -> None:
    for kind in kinds:
        call_command("ingest", kind, str(folder / f"{kind}.csv"), stdout=StringIO())


def template(folder: Path) -> list[str]:
    return (folder / ".env.template").read_text().splitlines()


def names_read(source: str) -> tuple[set[str], set[str]]:
    """(required, optional) variable names a module's code reads: `.secret("X")` and
    `.setting("X"…)` calls, `env_prefix + "X"` lookups. Read from the code itself, not from
    any declaration, so a variable added to an adapter and not declared fails here."""
    required = set(re.findall(r"\.secret\(\s*[\"'](\w+)[\"']", source))
    optional = set(re.findall(r"\.setting\(\s*[\"'](\w+)[\"']", source))
    optional |= set(re.findall(r"env_prefix \+ [\"'](\w+)[\"']", source))
    optional |= set(re.findall(r"_seconds\(config, [\"'](\w+)[\"']", source))
    return required, optional - required


def module_source(dotted: str) -> str:
    module, _name = dotted.rsplit(".", 1)
    return inspect.getsource(__import__(module, fromlist=["_"]))


def test_netsuite_and_shopify_in_an_empty_folder_gives_files_ingest_accepts_and_a_checklist(
    tmp_path,
):
    out = init("--erp", "netsuite", "--ecom", "shopify", "--dir", str(tmp_path))

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    ingest(tmp_path, "locations", "channels", "erp_sources")
    shop = Channel.objects.get(code="shopify")
    assert (shop.kind, shop.sync_mode, shop.currency) == ("shopify", "dry_run", "USD")
    assert [loc.code for loc in shop.locations.all()] == ["WH"]
    erp = ErpSource.objects.get(code="netsuite")
    assert (erp.kind, erp.schedule, erp.options) == ("netsuite", "06:00", {"account": ""})
    assert Location.objects.get(code="WH").kind == "warehouse"

    lines = template(tmp_path)
    for name in ("CONSUMER_KEY", "CONSUMER_SECRET", "TOKEN_ID", "TOKEN_SECRET"):
        assert f"IMS_ERP_NETSUITE_{name}=" in lines
    assert "IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN=" in lines
    assert "IMS_CHANNEL_SHOPIFY_WEBHOOK_SECRET=" in lines
    assert "# IMS_CHANNEL_SHOPIFY_LOCATION_ID=" in lines  # optional: commented out

    checklist = out.split("What is left:")[1]
    assert "[ ] channel shopify (shopify): set IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN" in checklist
    assert "--url shopify=URL" in checklist  # no base_url yet: a file drop until it has one
    assert "IMS_ERP_NETSUITE_CONSUMER_KEY" in checklist
    assert "fill options account in erp_sources.csv" in checklist
    assert "sync --mode dry_run" in checklist
    assert "[not checked] channel shopify (shopify): no base_url yet" in out
    assert f"python manage.py ingest channels {tmp_path.resolve() / 'channels.csv'}" in out
    readme = (tmp_path / "README-init.md").read_text()
    assert "- [ ] channel shopify (shopify): set IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN" in readme
    assert "ERP sources nightly" in readme


@pytest.mark.parametrize("kind", ChannelKind.values)
def test_every_channel_kind_is_written_ingested_and_its_variables_named(tmp_path, kind):
    init("--ecom", kind, "--dir", str(tmp_path))
    ingest(tmp_path, "locations", "channels")

    channel = Channel.objects.get(code=kind)
    assert (channel.kind, channel.sync_mode) == (kind, "dry_run")
    store_kind = kind in ("square", "lightspeed", "pos")
    assert [loc.code for loc in channel.locations.all()] == (["STORE1"] if store_kind else ["WH"])

    lines = template(tmp_path)
    prefix = f"IMS_CHANNEL_{secrets_name(kind)}_"
    live = kind in ADAPTERS and kind != FILE_ADAPTER
    required, optional = names_read(module_source(ADAPTERS[kind if live else FILE_ADAPTER]))
    if kind in QUEUES:
        queue_required, queue_optional = names_read(module_source(QUEUES[kind]))
        optional |= queue_required | queue_optional  # the queue is optional for a channel
    provider = provider_for(kind)
    if provider is not None:
        from orders.services import inbox, poll

        optional |= set(getattr(provider, "settings", ()))
        optional |= names_read(inspect.getsource(inbox))[1] - {"ACCESS_TOKEN"}
        if hasattr(provider, "polled"):  # the order poll reads its switch
            optional |= names_read(inspect.getsource(poll))[1]
        if kind not in ("flipkart", "amazon"):  # their orders are polled / read from a queue
            required.add("WEBHOOK_SECRET")
            optional.discard("WEBHOOK_SECRET")
    assert required or optional
    for name in required:
        assert f"{prefix}{name}=" in lines, name
    for name in optional - required:
        assert f"# {prefix}{name}=" in lines or f"{prefix}{name}=" in lines, name
    declared = {ln.lstrip("# ").split("=")[0] for ln in lines if ln.lstrip("# ").startswith(prefix)}
    assert declared >= {prefix + n for n in required | optional}


@pytest.mark.parametrize("kind", ErpKind.values)
def test_every_erp_kind_is_written_ingested_and_its_secrets_named(tmp_path, kind):
    out = init("--erp", kind, "--dir", str(tmp_path))
    assert not (tmp_path / "channels.csv").exists()  # no channel asked for
    ingest(tmp_path, "locations", "erp_sources")

    source = ErpSource.objects.get(code=kind)
    assert (source.kind, source.schedule) == (kind, "06:00")
    prefix = f"IMS_ERP_{secrets_name(kind)}_"
    required, _ = names_read(inspect.getsource(inspect.getmodule(erp_adapter_class(kind))))
    lines = template(tmp_path)
    for name in required:
        assert f"{prefix}{name}=" in lines, name
    if kind in FILE_KINDS:
        assert not required
        assert source.base_url == str((tmp_path / "erp-drop").resolve())
        assert f"create the drop folder {source.base_url}" in out
    else:
        assert required
        assert f"set {prefix}" in out.split("What is left:")[1]


def test_an_existing_file_is_not_overwritten_and_nothing_is_written(tmp_path):
    (tmp_path / "channels.csv").write_text("mine\n")

    with pytest.raises(CommandError) as refused:
        init("--erp", "netsuite", "--ecom", "shopify", "--dir", str(tmp_path))

    assert refused.value.returncode == 1
    assert str(tmp_path / "channels.csv") in str(refused.value)
    assert "--force" in str(refused.value)
    assert [p.name for p in tmp_path.iterdir()] == ["channels.csv"]
    assert (tmp_path / "channels.csv").read_text() == "mine\n"


def test_force_overwrites_what_init_wrote_before(tmp_path):
    init("--ecom", "shopify", "--dir", str(tmp_path))
    with pytest.raises(CommandError):
        init("--ecom", "woocommerce", "--dir", str(tmp_path))

    init("--ecom", "woocommerce", "--dir", str(tmp_path), "--force")

    channels = (tmp_path / "channels.csv").read_text()
    assert "woocommerce" in channels and "shopify" not in channels
    assert "IMS_CHANNEL_WOOCOMMERCE_CONSUMER_KEY=" in template(tmp_path)


def test_kinds_repeat_or_are_comma_separated_and_codes_stay_unique(tmp_path):
    init("--ecom", "shopify,amazon", "--ecom", "shopify", "--dir", str(tmp_path))
    ingest(tmp_path, "locations", "channels")
    assert sorted(Channel.objects.values_list("code", flat=True)) == [
        "amazon",
        "shopify",
        "shopify-2",
    ]
    assert "IMS_CHANNEL_SHOPIFY_2_ACCESS_TOKEN=" in template(tmp_path)


def test_an_unknown_kind_names_the_option_and_the_allowed_values(tmp_path):
    with pytest.raises(CommandError, match=r"--ecom: unknown channel kind 'ebay' \(one of shopify"):
        init("--ecom", "ebay", "--dir", str(tmp_path))
    with pytest.raises(CommandError, match=r"--erp.*invalid choice: 'sap'.*netsuite"):
        init("--erp", "sap", "--dir", str(tmp_path))
    with pytest.raises(CommandError, match=r"--url magento: no such code \(one of shopify\)"):
        init("--ecom", "shopify", "--url", "magento=https://m.test", "--dir", str(tmp_path))
    with pytest.raises(CommandError, match="nothing to configure"):
        init("--dir", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_the_connection_to_shopify_is_checked_by_reading_it(tmp_path, monkeypatch):
    """Credentials set and a base URL given: init reads the shop's listings through the
    Shopify adapter (read-only), here a fake Shopify over real HTTP on 127.0.0.1."""
    fake = FakeShopify(token="shpat_test")
    fake.add("SKU-1", 5, "9.99")
    monkeypatch.setenv("IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN", "shpat_test")
    with fake.serve() as url:
        out = init("--ecom", "shopify", "--url", f"shopify={url}", "--dir", str(tmp_path))

    assert "[ok] channel shopify (shopify): read its listings (first SKU-1)" in out
    assert fake.writes == {} or not any(fake.writes.values())  # nothing was sent
    checklist = out.split("What is left:")[1]
    assert "ACCESS_TOKEN" not in checklist  # set
    assert "set IMS_CHANNEL_SHOPIFY_WEBHOOK_SECRET" in checklist  # not yet
    ingest(tmp_path, "locations", "channels")
    assert Channel.objects.get(code="shopify").base_url == url


def test_a_refused_connection_is_reported_failed_with_the_providers_answer(tmp_path, monkeypatch):
    fake = FakeShopify(token="shpat_test")
    monkeypatch.setenv("IMS_CHANNEL_SHOPIFY_ACCESS_TOKEN", "not-the-token")
    with fake.serve() as url:
        out = init("--ecom", "shopify", "--url", f"shopify={url}", "--dir", str(tmp_path))

    assert "[FAILED] channel shopify (shopify): shopify: POST" in out
    assert "the connection check failed" in out.split("What is left:")[1]


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (("--ecom", "woocommerce"), "IMS_CHANNEL_WOOCOMMERCE_CONSUMER_KEY"),
        (("--ecom", "amazon"), "IMS_CHANNEL_AMAZON_LWA_CLIENT_ID"),
        (("--ecom", "lightspeed"), "IMS_CHANNEL_LIGHTSPEED_OUTLET_ID"),
        (("--erp", "netsuite"), "IMS_ERP_NETSUITE_TOKEN_SECRET"),
        (("--erp", "sap_b1"), "IMS_ERP_SAP_B1_PASSWORD"),
    ],
)
def test_a_connection_without_its_credentials_is_not_tried_and_the_variable_is_named(
    tmp_path, args, missing
):
    code = args[1]
    # Port 9 (discard) on 127.0.0.1: a call made would fail, not pass.
    out = init(*args, "--url", f"{code}=http://127.0.0.1:9", "--dir", str(tmp_path))
    checks = out.split("Connection checks:")[1].split("\n\n")[0]
    assert f"[not checked] {'ERP' if args[0] == '--erp' else 'channel'} {code}" in checks
    assert missing in checks
    assert missing in out.split("What is left:")[1]


def test_apply_ingests_the_files_and_registers_the_schedules(tmp_path):
    out = init("--erp", "odoo", "--ecom", "square", "--dir", str(tmp_path), "--apply")

    assert "ingest channels: 1 rows, 1 created" in out
    assert Channel.objects.get(code="square").sync_mode == "dry_run"
    assert ErpSource.objects.get(code="odoo").options == {"database": ""}
    assert Schedule.objects.count() == len(SCHEDULES)
    assert "python manage.py ingest" not in out  # done, not to do


def test_the_erp_sources_file_refuses_a_bad_row_whole(csv_file):
    from ims.errors import FileRejected
    from orchestration.ingest import ingest_file

    path = csv_file(
        "code,name,kind,schedule,locations,options\n"
        "ns,NetSuite,netsuite,25:00,,\n"
        "od,Odoo,oddo,,NOWHERE,[1]\n"
    )
    with pytest.raises(FileRejected) as rejected:
        ingest_file(kind="erp_sources", path=path)
    problems = [str(e) for e in rejected.value.errors]
    assert any("schedule" in p and "25:00" in p for p in problems)
    assert any("kind" in p and "oddo" in p for p in problems)
    assert any("unknown location 'NOWHERE'" in p for p in problems)
    assert any("options" in p and "not a JSON object" in p for p in problems)
    assert not ErpSource.objects.exists()


def test_the_erp_sources_file_updates_a_source_in_place(csv_file):
    from orchestration.ingest import ingest_file

    header = "code,name,kind,base_url,schedule,options\n"
    ingest_file(kind="erp_sources", path=csv_file(header + "ns,NetSuite,netsuite,,06:00,{}\n"))
    _run, result = ingest_file(
        kind="erp_sources",
        path=csv_file(
            header + 'ns,NetSuite,netsuite,https://n.test,07:30,"{""account"": ""1""}"\n'
        ),
    )
    assert (result.updated, result.created) == (1, 0)
    source = ErpSource.objects.get(code="ns")
    assert (source.base_url, source.schedule, source.options) == (
        "https://n.test",
        "07:30",
        {"account": "1"},
    )


def test_the_erp_connection_is_checked_by_reading_its_catalog(tmp_path, monkeypatch):
    """An ERP with its secrets set is read through its adapter (log in, first catalog page),
    here a fake Fishbowl over real HTTP on 127.0.0.1; a wrong password is reported failed."""
    from tests.erp.fakes import Fishbowl
    from tests.fakes.served import served

    part = {"id": 1, "number": "FB-1", "description": "Bike", "active": True, "upc": ""}
    part["uom"] = {"id": 1, "name": "Each", "abbreviation": "ea"}
    fake = Fishbowl(parts=[part], inventory={})
    monkeypatch.setenv("IMS_ERP_FISHBOWL_USERNAME", "admin")
    monkeypatch.setenv("IMS_ERP_FISHBOWL_PASSWORD", "fb-pass")
    with served(fake.handle) as url:
        out = init("--erp", "fishbowl", "--url", f"fishbowl={url}", "--dir", str(tmp_path))
        monkeypatch.setenv("IMS_ERP_FISHBOWL_PASSWORD", "wrong")
        refused = init(
            "--erp", "fishbowl", "--url", f"fishbowl={url}", "--dir", str(tmp_path), "--force"
        )

    assert "[ok] ERP fishbowl (fishbowl): read its catalog (first item FB-1)" in out
    assert "[FAILED] ERP fishbowl (fishbowl): " in refused
    assert "401" in refused.split("[FAILED]")[1].splitlines()[0]
    assert "set IMS_ERP_FISHBOWL" not in out.split("What is left:")[1]
