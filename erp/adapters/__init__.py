"""ERP adapters, one module per system; `adapter_for(source)` picks the one for its kind."""

from __future__ import annotations

from erp.adapters.base import ErpAdapter, SourceConfig


def config_of(source, transport=None) -> SourceConfig:
    return SourceConfig(
        code=source.code,
        kind=source.kind,
        base_url=source.base_url,
        options=dict(source.options or {}),
        transport=transport,
    )


def adapter_class(kind: str):
    from erp.adapters import fishbowl, netsuite, odoo, retailpro, sap_b1

    return {
        "netsuite": netsuite.NetSuiteAdapter,
        "odoo": odoo.OdooAdapter,
        "sap_b1": sap_b1.SapB1Adapter,
        "fishbowl": fishbowl.FishbowlAdapter,
        "retailpro": retailpro.RetailProAdapter,
        "file": retailpro.FileAdapter,
    }[kind]


def adapter_for(source, transport=None) -> ErpAdapter:
    return adapter_class(source.kind)(config_of(source, transport))
