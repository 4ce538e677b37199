"""The vendors' schemas a stand-in answers through. The providers' specifications beside the
repository (../shared/specs/) come first; without them (a clone on its own) the copy in
standins/vendor/ serves: Shopify's Admin GraphQL 2026-04 introspection (ISC licence, its
LICENSE beside it), byte for byte the file in the specs (a test checks)."""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "specs"
VENDORED = HERE / "vendor"
SHOPIFY_VERSIONS = ("2025-01", "2026-04")


def shopify_schema_file(version: str) -> Path:
    """Where the introspection of one Shopify API version is: the shared specs, else the copy."""
    name = Path("shopify") / f"admin_schema_{version}.json.gz"
    for folder in (SHARED, Path("/work/shared/specs"), VENDORED):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"Shopify's {version} schema is neither in {SHARED} nor {VENDORED}")


@functools.cache
def shopify_schema(version: str = "2026-04"):
    """The Shopify Admin GraphQL schema of one API version from its introspection result."""
    from graphql import build_client_schema

    with gzip.open(shopify_schema_file(version), "rt") as handle:
        data = json.load(handle)
    schema = build_client_schema(data.get("data", data))
    # Shopify's schema deprecates some implementing fields whose interface field is not
    # deprecated, which graphql-core 3.3 reports as a schema error; documents are still
    # validated in full against it.
    schema._validation_errors = []
    for name, check in SHOPIFY_SCALARS.items():
        if name in schema.type_map:
            schema.type_map[name].serialize = check
    return schema


def _scalar(name: str, pattern: str):
    """A serializer that lets through only a string of the form Shopify documents for a scalar
    (so a fake answering through the schema cannot answer a float for a Decimal)."""
    form = re.compile(pattern)

    def serialize(value):
        if not isinstance(value, str) or not form.fullmatch(value):
            raise TypeError(f"{name} cannot represent {value!r}")
        return value

    return serialize


# Shopify's custom scalars as its answers carry them: DateTime an ISO-8601 string in UTC,
# Decimal and Money a decimal number as a string, UnsignedInt64 digits as a string.
SHOPIFY_SCALARS = {
    "DateTime": _scalar("DateTime", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"),
    "Decimal": _scalar("Decimal", r"-?\d+(\.\d+)?"),
    "Money": _scalar("Money", r"-?\d+(\.\d+)?"),
    "UnsignedInt64": _scalar("UnsignedInt64", r"\d+"),
}
