"""WooCommerce through its REST API v3 (`/wp-json/wc/v3`).

- Read: products, 100 a page, following the `Link: <…>; rel="next"` header; a variable
  product's variations are read from `/products/{id}/variations` the same way. Named SKUs are
  read with `?sku=A,B,…` (comma-separated), which answers a variation's SKU with the
  variation itself (`type: variation`, its `parent_id`): it is pushed through its parent.
- A price: with a `sale_price` (a sale running: not one scheduled for later, `on_sale`
  false), shoppers pay it and the `regular_price` beside it is the MRP;
  without one, the price is `regular_price` and the listing shows no MRP. A price push with
  an MRP sends both in one write (regular_price = MRP, sale_price = the price when it is
  below the MRP, else "" with regular_price = the price). One without an MRP sends the
  regular price, but not while a sale runs (the shoppers' price is the sale price): the SKU's
  result says why.
- Push: `POST /products/batch` (and `/products/{parent}/variations/batch` for variations) with
  `update: [{id, stock_quantity, manage_stock}]` or `{id, regular_price}`, at most 100 objects a
  call; an object answered with an `error` is that SKU's refusal, the others are applied.
- Publish: `POST /products` (type simple, status publish, sku, name, regular/sale price by
  the MRP rule above, manage_stock, stock_quantity); the v3 docs give no GTIN property, so
  the barcode is not sent. A SKU the shop lists already is not created again. A draft of a
  style (with option values: size, colour, material) becomes a variation of the style's
  variable product (the product whose SKU is the style code; `GET /products?sku=`, created
  with `POST /products` type variable when absent, given missing option values with
  `PUT /products/{id}`), `POST /products/{id}/variations`; a refused variation takes back
  what the call did to its parent (`DELETE /products/{id}?force=true` for one it created).
- Orders (the order poll): `GET /orders?modified_after=…&dates_are_gmt=true`, every status,
  each order as its webhook carries it.
- Auth: HTTP Basic with the REST API consumer key and secret (over HTTPS).

Settings (environment): `IMS_CHANNEL_<CODE>_CONSUMER_KEY`, `…_CONSUMER_SECRET` (secrets).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import ClassVar

import httpx

from channels.adapters.base import (
    PRICE,
    QUANTITY,
    AdapterConfig,
    Capabilities,
    ListingDraft,
    ListingState,
    OrderChange,
    PriceUpdate,
    PublishResult,
    PushResult,
    StockUpdate,
    as_price,
    as_quantity,
    chunks,
    json_dumps,
    json_loads,
    listed_already,
    utc_time,
    variant_options,
)
from channels.adapters.http import HttpAdapter
from channels.errors import ChannelUnreachable, ProviderRefused

API = "/wp-json/wc/v3"


class WooCommerceAdapter(HttpAdapter):
    kind = "woocommerce"
    # The variables it reads (IMS_CHANNEL_<CODE>_<NAME>): required, then optional.
    credentials: ClassVar[tuple[str, ...]] = ("CONSUMER_KEY", "CONSUMER_SECRET")
    optional_settings: ClassVar[tuple[str, ...]] = ()
    capabilities = Capabilities(webhooks=True, publish=True)
    stock_batch = 100
    price_batch = 100

    def __init__(self, config: AdapterConfig, **options):
        auth = httpx.BasicAuth(config.secret("CONSUMER_KEY"), config.secret("CONSUMER_SECRET"))
        super().__init__(config, auth=auth, **options)

    def _pages(self, url: str, params: dict | None = None) -> Iterator[dict]:
        next_url, next_params = url, {"per_page": 100, **(params or {})}
        while next_url:
            response = self.client.request("GET", next_url, params=next_params)
            yield from json_loads(response.content)
            link = response.links.get("next")
            next_url, next_params = (link["url"], None) if link else (None, None)

    def orders_changed(self, *, since: dt.datetime) -> Iterator[OrderChange]:
        """Orders modified after `since` (GMT), as `GET /orders` lists them (every status)."""
        params = {
            "modified_after": since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true",
            "orderby": "id",
            "order": "asc",
        }
        for order in self._pages(f"{API}/orders", params):
            changed = order.get("date_modified_gmt") or order.get("date_created_gmt")
            yield OrderChange(
                external_id=str(order.get("id")),
                changed_at=utc_time(changed) or since,
                body=json_dumps(order).encode(),
            )

    def fetch_snapshot(self, *, skus: Sequence[str] | None = None) -> Iterator[ListingState]:
        if skus is None:
            yield from self._products({})
            return
        for group in chunks(list(skus), 50):
            yield from self._products({"sku": ",".join(group)})

    def _products(self, params: dict) -> Iterator[ListingState]:
        for product in self._pages(f"{API}/products", params):
            if product.get("type") == "variable":
                for variation in self._pages(f"{API}/products/{product['id']}/variations"):
                    if variation.get("sku"):
                        yield self._state(variation, parent=product["id"])
            elif product.get("sku"):
                parent = product.get("parent_id") if product.get("type") == "variation" else None
                yield self._state(product, parent=parent or None)

    def _state(self, obj: dict, *, parent) -> ListingState:
        ref = {"id": obj["id"], "parent_id": parent}
        # A sale scheduled for later has its sale price already, but WooCommerce says it is not
        # on sale (`on_sale` false): shoppers pay the regular price until it starts.
        sale = as_price(obj.get("sale_price")) if obj.get("on_sale", True) else None
        if sale is not None:
            ref["sale_price"] = obj["sale_price"]
        regular = as_price(obj.get("regular_price"))
        return ListingState(
            sku=obj["sku"],
            quantity=as_quantity(obj.get("stock_quantity")) if obj.get("manage_stock") else None,
            price=regular if sale is None else sale,
            mrp=None if sale is None else regular,
            currency=self.config.currency,
            external_id=str(obj["id"]),
            ref=ref,
        )

    def push_inventory(self, updates: Sequence[StockUpdate]) -> list[PushResult]:
        return self._batch(
            updates, QUANTITY, lambda u: {"stock_quantity": u.quantity, "manage_stock": True}
        )

    def push_prices(self, updates: Sequence[PriceUpdate]) -> list[PushResult]:
        on_sale = [u for u in updates if u.ref.get("sale_price") and u.mrp is None]
        held = [
            PushResult(
                u.sku,
                PRICE,
                False,
                f"a sale price ({u.ref['sale_price']}) is running on WooCommerce: regular price "
                f"{u.price} not sent (end the sale there, or wait for it to end)",
            )
            for u in on_sale
        ]
        rest = [u for u in updates if not u.ref.get("sale_price") or u.mrp is not None]
        return held + self._batch(rest, PRICE, lambda u: price_fields(u.price, u.mrp))

    def _batch(self, updates, field: str, values) -> list[PushResult]:
        results = []
        groups = defaultdict(list)
        for u in updates:
            if not u.ref.get("id"):
                results.append(PushResult(u.sku, field, False, "no WooCommerce id for this SKU"))
            else:
                groups[u.ref.get("parent_id")].append(u)
        for parent, items in groups.items():
            url = f"{API}/products/{parent}/variations/batch" if parent else f"{API}/products/batch"
            for batch in chunks(items, self.stock_batch):
                response = self.client.request(
                    "POST",
                    url,
                    content=json_dumps(
                        {"update": [{"id": u.ref["id"], **values(u)} for u in batch]}
                    ),
                )
                answered = {
                    obj.get("id"): obj for obj in json_loads(response.content).get("update", [])
                }
                for u in batch:
                    obj = answered.get(u.ref["id"])
                    if obj is None:
                        results.append(PushResult(u.sku, field, False, "not in the batch answer"))
                    elif obj.get("error"):
                        error = obj["error"]
                        results.append(
                            PushResult(
                                u.sku,
                                field,
                                False,
                                f"{error.get('code')}: {error.get('message')}"[:400],
                            )
                        )
                    else:
                        results.append(PushResult(u.sku, field, True))
        return results

    # -- publish -------------------------------------------------------------
    def publish(
        self, drafts: Sequence[ListingDraft], *, dry_run: bool = False
    ) -> list[PublishResult]:
        """Create each draft's product (`POST /products`: simple, published, its SKU, name,
        regular and sale prices by the MRP rule, managed stock at the draft's quantity). A SKU
        the shop lists already is reported as listed and not sent again (a retry creates
        once); a refusal is the draft's error, WordPress's message. A dry run only reads."""
        return [self._publish(draft, dry_run) for draft in drafts]

    def _publish(self, draft: ListingDraft, dry_run: bool) -> PublishResult:
        if listed := listed_already(self, draft.sku):
            return listed
        options = variant_options(draft)
        if draft.style and options:
            return self._publish_variation(draft, options, dry_run)
        body = {"type": "simple", "status": "publish", "name": draft.name, **_offer(draft)}
        write = {"method": "POST", "path": f"{API}/products", "body": body}
        if dry_run:
            return PublishResult(draft.sku, False, requests=(write,))
        try:
            created = self.send(write)
        except ProviderRefused as exc:
            return PublishResult(draft.sku, False, error=_wordpress(exc), requests=(write,))
        # Named and referenced as a read names it.
        state = self._state(created, parent=None)
        return PublishResult(
            draft.sku, True, external_id=state.external_id, ref=dict(state.ref), requests=(write,)
        )

    def _publish_variation(
        self, draft: ListingDraft, options: list[tuple[str, str]], dry_run: bool
    ) -> PublishResult:
        """The draft as a variation of its style's variable product (the product whose SKU is
        the style code): the product is created when the shop has none, and given the draft's
        option values when it lacks them. A variation refused undoes what this call did to
        its parent (a parent it created is deleted, attributes it added are taken back)."""
        found = self._pages(f"{API}/products", {"sku": draft.style})
        parent = next((p for p in found if p.get("sku") == draft.style), None)
        if parent is not None and parent.get("type") != "variable":
            return PublishResult(
                draft.sku,
                False,
                error=f"the style's SKU {draft.style} is a {parent.get('type')} product on "
                "WooCommerce, not a variable one",
            )
        if parent is None:
            attributes = _with_options([], options)
            parent_write = {
                "method": "POST",
                "path": f"{API}/products",
                "body": {
                    "type": "variable",
                    "status": "publish",
                    "name": draft.style_name or draft.style,
                    "sku": draft.style,
                    "attributes": attributes,
                },
            }
        else:
            before = _attributes(parent)
            attributes = _with_options(before, options)
            parent_write = None
            if attributes != before:
                parent_write = {
                    "method": "PUT",
                    "path": f"{API}/products/{parent['id']}",
                    "body": {"attributes": attributes},
                }
        body = {
            **_offer(draft),
            "status": "publish",
            "attributes": [{"name": name, "option": value} for name, value in options],
        }
        parent_id = parent["id"] if parent is not None else f"<new {draft.style}>"
        variation_write = {
            "method": "POST",
            "path": f"{API}/products/{parent_id}/variations",
            "body": body,
        }
        writes = [w for w in (parent_write, variation_write) if w is not None]
        if dry_run:
            return PublishResult(draft.sku, False, requests=tuple(writes))
        sent: list[dict] = []
        touched = False
        try:
            if parent_write is not None:
                sent.append(parent_write)
                parent_id = self.send(parent_write)["id"]
                touched = True
                variation_write["path"] = f"{API}/products/{parent_id}/variations"
            sent.append(variation_write)
            made = self.send(variation_write)
        except ProviderRefused as exc:
            error = _wordpress(exc)
            if touched:
                try:
                    sent.append(self._undo(parent, parent_id))
                except (ProviderRefused, ChannelUnreachable) as undo:
                    error += f"; taking back the change to product {parent_id} failed: {undo}"
            return PublishResult(draft.sku, False, error=error[:400], requests=tuple(sent))
        state = self._state(made, parent=parent_id)
        return PublishResult(
            draft.sku,
            True,
            external_id=state.external_id,
            ref=dict(state.ref),
            requests=tuple(sent),
        )

    def _undo(self, parent: dict | None, parent_id) -> dict:
        """Take back what a publish did to a style's parent before its variation was refused
        (delete the parent it created, or give back the attributes the parent had); the write
        sent to do so."""
        if parent is None:
            self.client.request("DELETE", f"{API}/products/{parent_id}", params={"force": "true"})
            return {
                "method": "DELETE",
                "path": f"{API}/products/{parent_id}?force=true",
                "body": None,
            }
        undo = {
            "method": "PUT",
            "path": f"{API}/products/{parent_id}",
            "body": {"attributes": _attributes(parent)},
        }
        self.send(undo)
        return undo


def _attributes(product: dict) -> list[dict]:
    """A product's attributes as its update takes them (the documented properties)."""
    keep = ("id", "name", "position", "visible", "variation", "options")
    return [{k: a[k] for k in keep if k in a} for a in product.get("attributes") or []]


def _with_options(attributes: list[dict], options: list[tuple[str, str]]) -> list[dict]:
    """The attributes with each option value among its attribute's variation options."""
    merged = [{**a, "options": list(a.get("options") or [])} for a in attributes]
    for name, value in options:
        attribute = next((a for a in merged if a.get("name", "").lower() == name.lower()), None)
        if attribute is None:
            attribute = {"name": name, "visible": True, "variation": True, "options": []}
            merged.append(attribute)
        attribute["variation"] = True
        if value not in attribute["options"]:
            attribute["options"].append(value)
    return merged


def _offer(draft: ListingDraft) -> dict:
    """What a product and a variation share: SKU, prices, managed stock."""
    return {
        "sku": draft.sku,
        **price_fields(draft.price, draft.mrp),
        "manage_stock": True,
        "stock_quantity": draft.quantity,
    }


def _wordpress(exc: ProviderRefused) -> str:
    """WordPress's own words for a refusal ("code: message"), from the answer the error quotes."""
    _, _, answer = exc.message.partition(": HTTP ")
    _, _, text = answer.partition(": ")
    try:
        body = json_loads(text)
    except ValueError:
        return exc.message[:400]
    if not isinstance(body, dict) or not body.get("message"):
        return exc.message[:400]
    return f"{body.get('code')}: {body['message']}"[:400]


def price_fields(price, mrp) -> dict[str, str]:
    """The price (and MRP) as WooCommerce's regular and sale prices: the MRP is the regular price
    and the price the sale price below it; at the MRP (or without one) the price is the regular
    price, and with an MRP the sale price is cleared."""
    if mrp is None:
        return {"regular_price": format(price, "f")}
    if price < mrp:
        return {"regular_price": format(mrp, "f"), "sale_price": format(price, "f")}
    return {"regular_price": format(price, "f"), "sale_price": ""}
