"""The providers' own specifications (../shared/specs/): requests our connectors build and the
payloads our fakes answer are checked against these, not against our own idea of them."""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

from django.conf import settings

from standins.specs import shopify_schema

SPECS = Path(settings.BASE_DIR).parent / "shared" / "specs"


def specs_dir() -> Path:
    for candidate in (SPECS, Path("/work/shared/specs")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"the providers' specifications are not at {SPECS}")


def shopify_errors(document: str, version: str = "2026-04") -> list[str]:
    """Validation errors of a GraphQL document against that version's Admin schema ([] when
    valid)."""
    from graphql import parse, validate

    return [error.message for error in validate(shopify_schema(version), parse(document))]


@functools.cache
def amazon_model(name: str) -> dict:
    path = next((specs_dir() / "amazon-sp-api" / "models").rglob(name))
    return json.loads(path.read_text())


@functools.cache
def amazon_feed_schema() -> dict:
    return json.loads(
        (
            specs_dir() / "amazon-sp-api" / "schemas" / "feeds" / "listings-feed-schema-v2.json"
        ).read_text()
    )


def swagger_validator(model: dict, definition: str):
    """A jsonschema validator for one Swagger 2.0 definition (its $refs resolved in the model)."""
    from jsonschema import Draft4Validator

    schema = {"$ref": f"#/definitions/{definition}", "definitions": model["definitions"]}
    return Draft4Validator(schema)


@functools.cache
def square_spec() -> dict:
    with gzip.open(specs_dir() / "square" / "api.json.gz", "rt") as handle:
        return json.load(handle)


def openapi_validator(spec: dict, component: str):
    """A jsonschema validator for an OpenAPI 3.0 component schema (its $refs resolved in the
    spec); a schema marked `nullable: true` takes null too, as OpenAPI 3.0 says."""
    from jsonschema import Draft4Validator

    schema = {"$ref": f"#/components/schemas/{component}", "components": _nullable(spec)}
    return Draft4Validator(schema)


_NULLABLE: dict[int, dict] = {}


def _nullable(spec: dict) -> dict:
    """The spec's components with OpenAPI 3.0's `nullable` as JSON Schema says it (once per
    spec)."""
    key = id(spec)
    if key not in _NULLABLE:
        _NULLABLE[key] = _with_null(spec["components"])
    return _NULLABLE[key]


def _with_null(node):
    if isinstance(node, list):
        return [_with_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _with_null(v) for k, v in node.items() if k != "nullable"}
    # OpenAPI 3.0's `nullable`, or Swagger's `x-nullable` (BigCommerce's catalog files).
    if node.get("nullable") is not True and node.get("x-nullable") is not True:
        return out
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        return out
    if "type" in out:
        return out
    return {"anyOf": [out, {"type": "null"}]}


@functools.cache
def bigcommerce_orders_spec() -> dict:
    """BigCommerce's Orders v2 OpenAPI file (orders, their products)."""
    import yaml

    with gzip.open(specs_dir() / "bigcommerce" / "reference" / "orders.v2.oas2.yml.gz", "rt") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def bigcommerce_inventory_spec() -> dict:
    """BigCommerce's Inventory v3 OpenAPI file (absolute and relative adjustments)."""
    import yaml

    return yaml.safe_load(
        (specs_dir() / "bigcommerce" / "reference" / "inventory.v3.yml").read_text()
    )


def openapi_operation(spec: dict, path: str, method: str) -> dict:
    return spec["paths"][path][method]


def openapi_body_validator(spec: dict, path: str, method: str, *, status: str | None = None):
    """A jsonschema validator for an operation's JSON request body (or, given `status`, its
    response), $refs resolved in the spec and `nullable` honoured."""
    from jsonschema import Draft4Validator

    operation = openapi_operation(spec, path, method)
    holder = operation["responses"][status] if status else operation["requestBody"]
    schema = holder["content"]["application/json"]["schema"]
    return Draft4Validator({**_with_null(schema), "components": _nullable(spec)})


def openapi_query_names(spec: dict, path: str, method: str) -> set[str]:
    """The query parameters an operation documents (its own and those it $refs)."""
    names = set()
    for param in openapi_operation(spec, path, method).get("parameters", []):
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        if param.get("in") == "query":
            names.add(param["name"])
    return names


@functools.cache
def bigcommerce_variants_spec() -> dict:
    """BigCommerce's Catalog v3 product-variants OpenAPI file."""
    import gzip

    import yaml

    path = (
        specs_dir() / "bigcommerce" / "reference" / "catalog" / "product-variants_catalog.v3.yml.gz"
    )
    return yaml.safe_load(gzip.decompress(path.read_bytes()))


# --- WooCommerce: its REST docs are Markdown tables (woocommerce/wp-api-v3/*.md) -----------


def _woo_table(doc: str, heading: str, after: str = "") -> dict[str, str]:
    """The first table under a heading (the first after `after`, if given) of a WooCommerce
    docs page: {name: type}."""

    text = (specs_dir() / "woocommerce" / "wp-api-v3" / doc).read_text()
    start = text.index(heading, text.index(after) if after else 0)
    rows = {}
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#") and rows:
            break
        found = re.match(r"\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|", line)
        if found:
            rows[found.group(1)] = found.group(2)
        elif rows and not line.startswith("|"):
            break
    return rows


@functools.cache
def woo_list_parameters(doc: str, listing: str) -> frozenset[str]:
    """The query parameters a "List all …" section documents (e.g. `_orders.md`, "orders")."""
    return frozenset(
        _woo_table(doc, "#### Available parameters ####", after=f"## List all {listing} ##")
    )


@functools.cache
def woo_properties(doc: str, resource: str) -> dict[str, str]:
    """A resource's documented properties and their types (e.g. `_products.md`, "Product")."""
    return _woo_table(doc, f"## {resource} properties ##")


def woo_type_errors(doc: str, resource: str, obj: dict) -> list[str]:
    """Why an update object is not what the docs describe: an unknown property, or a value
    not of its documented type (string, integer, boolean)."""
    kinds = {"string": str, "integer": int, "boolean": bool}
    properties = woo_properties(doc, resource)
    errors = []
    for name, value in obj.items():
        if name not in properties:
            errors.append(f"{name}: not a documented {resource} property")
            continue
        wanted = kinds.get(properties[name].split()[0])
        if (
            wanted
            and value is not None
            and not (isinstance(value, wanted) and not (wanted is int and isinstance(value, bool)))
        ):
            errors.append(f"{name}: {value!r} is not a {properties[name]}")
    return errors


@functools.cache
def bigcommerce_products_spec() -> dict:
    """BigCommerce's Catalog v3 products OpenAPI file (create, list, delete a product)."""
    import yaml

    path = specs_dir() / "bigcommerce" / "reference" / "catalog" / "products_catalog.v3.yml.gz"
    return yaml.load(
        gzip.decompress(path.read_bytes()), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )


@functools.cache
def amazon_catalog_model() -> dict:
    """Amazon's Catalog Items API 2022-04-01 model, vendored under tests/fakes/vendor/amazon/
    (../shared/specs has no Catalog Items model)."""
    path = Path(__file__).parent / "vendor" / "amazon" / "catalogItems_2022-04-01.json"
    return json.loads(path.read_text())
