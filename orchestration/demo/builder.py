"""The demo dataset: 1,000 SKUs, a warehouse and two stores, four channels, mismatches baked in.

Everything is drawn from a seeded random generator, so the data is the same on
every machine (prices' effective dates are relative to the day it is built).
Beside the input files it writes the gold files: the exceptions reconcile must
find (`gold-exceptions.csv`) and the scorecard figures (`gold-scorecard.json`),
worked out here from the generated data alone, not by running IMS.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from stdnum import ean

from catalog.services.ingest import (
    CATALOG_COLUMNS,
    CATALOG_OPTIONAL,
    PRICES_COLUMNS,
    PRICES_OPTIONAL,
)
from catalog.services.price_rules import PRICE_RULES_COLUMNS
from channels.services import CHANNELS_COLUMNS
from ims.csvio import write_csv
from ims.money import percent
from inventory.services.ingest import INVENTORY_COLUMNS, LOCATIONS_COLUMNS, LOCATIONS_OPTIONAL

SEED = 20261122
CURRENCY = "USD"
SKU_COUNT = 1000

LOCATIONS = [
    ("WH-EAST", "East warehouse", "warehouse", "W01"),
    ("STORE-NYC", "New York store", "store", "S01"),
    ("STORE-SF", "San Francisco store", "store", "S02"),
]

# code, name, kind, sync_mode, locations, safety_buffer
CHANNELS = [
    ("amazon", "Amazon US", "amazon", "read_only", ["WH-EAST"], "2"),
    ("pos", "Store POS", "pos", "read_only", ["STORE-NYC", "STORE-SF"], "0"),
    ("shopify", "Shopify D2C", "shopify", "dry_run", ["WH-EAST", "STORE-NYC"], "0"),
    ("woocommerce", "WooCommerce wholesale", "woocommerce", "read_only", ["WH-EAST"], "10%"),
]

# Quantity policies (PRODUCT.md "Channel assortment and quantity policy"): Amazon sees 80 % of
# the warehouse's stock, at most 50 units of a product.
POLICIES = {"amazon": {"share_pct": Decimal(80), "zero_at": 0, "max_units": 50}}
NO_POLICY = {"share_pct": Decimal(100), "zero_at": 0, "max_units": None}
# The stores' POS does not offer what is sold online only: the assortment withholds grocery there.
POS_WITHHELD = {"grocery"}
# Withheld products the POS still shows with stock (a Stock_Mismatch, expected 0).
POS_SHOWN_ANYWAY = 2

# category, max_discount_pct, min_margin_pct, luxury, excluded_channels
PRICE_RULES = [
    ("*", "50", "10", "false", ""),
    ("electronics", "30", "5", "", ""),
    ("watches", "10", "", "true", "amazon"),
]

CATEGORIES = [
    "apparel",
    "footwear",
    "accessories",
    "home",
    "beauty",
    "electronics",
    "toys",
    "sports",
    "grocery",
    "watches",
]
VARIANT_CATEGORIES = {
    "apparel": ("size", ["S", "M", "L", "XL"]),
    "footwear": ("size", ["8", "9", "10"]),
}
COLOURS = ["black", "navy", "red", "green", "grey", "white"]

# How many of each mismatch the demo bakes in, per channel.
PRICE_MISMATCHES = {"shopify": 50, "amazon": 12, "woocommerce": 8, "pos": 5}
STOCK_ABOVE = {"shopify": 15, "amazon": 12, "woocommerce": 10, "pos": 5}
STOCK_BELOW = {"shopify": 15, "amazon": 13, "woocommerce": 10, "pos": 5}
MISSING = {"shopify": 8, "amazon": 12, "woocommerce": 6, "pos": 4}
CURRENCY_MISMATCHES = {"amazon": ("CAD", 5)}
# Amazon shows each listing's list price (its MRP, snapshot column `mrp`); a few show another.
SHOWS_MRP = {"amazon"}
MRP_MISMATCHES = {"amazon": 6}
INACTIVE = 12
NEGATIVE_STOCK = 3
RULE_BREAKING_PRICES = 5

# The order files are ingested in: each refers only to what came before it.
INGEST_ORDER = [
    "locations",
    "channels",
    "price_rules",
    "catalog",
    "inventory",
    "prices",
    "assortment",
]


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _ends_99(value: Decimal) -> Decimal:
    return Decimal(math.floor(value)) + Decimal("0.99") if value >= 1 else _money(value)


def _policy(category: str) -> tuple[Decimal, Decimal]:
    """(max discount %, min margin %) of a category, as PRICE_RULES sets them."""
    return {
        "electronics": (Decimal(30), Decimal(5)),
        "watches": (Decimal(10), Decimal(10)),
    }.get(category, (Decimal(50), Decimal(10)))


def _with_check_digit(digits: str) -> str:
    return digits + ean.calc_check_digit(digits)


@dataclass
class DemoProduct:
    sku: str
    name: str
    barcode: str
    category: str
    cost: Decimal
    mrp: Decimal
    price: Decimal
    status: str = "active"
    style: str = ""
    attributes: dict = field(default_factory=dict)
    stock: dict = field(default_factory=dict)  # location code → quantity in the ERP file

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass
class GoldRow:
    sku_id: str
    channel: str
    discrepancy: str
    expected: str
    actual: str
    exposure: Decimal = Decimal("0.00")
    oversell: bool = False


class DemoBuilder:
    def __init__(self, today: dt.date):
        self.rng = random.Random(SEED)
        self.today = today
        self.products: list[DemoProduct] = []
        self.prices: list[tuple[str, Decimal, str]] = []  # sku, price, effective date ('' = now)
        self.in_force: dict[str, Decimal] = {}
        self.listings: dict[str, list[dict]] = defaultdict(list)
        self.gold: list[GoldRow] = []

    # -- the catalog -------------------------------------------------------
    def build_catalog(self) -> None:
        rng = self.rng
        n = 0
        while len(self.products) < SKU_COUNT:
            category = CATEGORIES[n % len(CATEGORIES)]
            n += 1
            cost = _money(Decimal(rng.randint(300, 20000)) / 100)
            mrp = _ends_99(cost * Decimal(rng.choice(["1.8", "2.0", "2.2", "2.5"])))
            cap, margin = _policy(category)
            floor = max(cost * (1 + margin / 100), mrp * (1 - cap / 100))
            discount = Decimal(rng.choice([0, 0, 5, 10, 15, 20])) / 100
            price = max(_money(mrp * (1 - discount)), _money(floor + Decimal("0.01")))
            price = min(price, mrp)
            variants = VARIANT_CATEGORIES.get(category)
            style_no = len(self.products) + 1
            sizes = variants[1] if variants and rng.random() < 0.6 else [None]
            colour = rng.choice(COLOURS)
            for size in sizes:
                if len(self.products) >= SKU_COUNT:
                    break
                number = 10001 + len(self.products)
                sku = f"SKU-{number}"
                # Most barcodes are EAN-13; every sixth is a UPC-A (12 digits).
                body = f"{number:07d}"
                barcode = (
                    _with_check_digit(f"0{36000}{body[-6:]}")[1:]
                    if number % 6 == 0
                    else _with_check_digit(f"890{number:09d}")
                )
                name = f"{category.title()} item {number}"
                attributes = {}
                style = ""
                if size:
                    style = f"STYLE-{style_no:05d}"
                    attributes = {variants[0]: size, "colour": colour}
                    name = f"{category.title()} style {style_no} {colour} {size}"
                self.products.append(
                    DemoProduct(
                        sku,
                        name,
                        barcode,
                        category,
                        cost,
                        mrp,
                        price,
                        style=style,
                        attributes=attributes,
                    )
                )
        for product in self.products:
            assert not self.broken_rule(product, product.price), product.sku
        for product in rng.sample(self.products, INACTIVE):
            product.status = "inactive"
        for product in self.products:
            product.stock = {
                "WH-EAST": rng.choice([0, 3, 8, 15, 25, 40, 60, 120]),
                "STORE-NYC": rng.choice([0, 0, 2, 5, 9, 14]),
                "STORE-SF": rng.choice([0, 0, 1, 4, 7, 12]),
            }
        self.in_force = {p.sku: p.price for p in self.products}

    # -- ERP prices --------------------------------------------------------
    def broken_rule(self, p: DemoProduct, offer: Decimal) -> str:
        cap, margin = _policy(p.category)
        if offer > p.mrp:
            return "above_mrp"
        if offer < p.cost * (1 + margin / 100):
            return "min_margin"
        if (p.mrp - offer) / p.mrp * 100 > cap:
            return "max_discount"
        return ""

    def valid_price(self, p: DemoProduct, fraction: str) -> Decimal:
        """A price `fraction` of the way from the lowest the rules allow up to MRP."""
        cap, margin = _policy(p.category)
        low = max(p.cost * (1 + margin / 100), p.mrp * (1 - cap / 100)) + Decimal("0.01")
        price = min(p.mrp, _money(low + (p.mrp - low) * Decimal(fraction)))
        assert not self.broken_rule(p, price), (p.sku, price)
        return price

    def build_prices(self) -> None:
        rng = self.rng
        active = [p for p in self.products if p.active]
        chosen = rng.sample([p for p in active if p.category != "watches"], 80 + 20 + 5 + 2)
        updates, future, past, breaking = chosen[:80], chosen[80:100], chosen[100:105], chosen[105:]
        breaking += rng.sample(
            [p for p in active if p.category == "watches"], RULE_BREAKING_PRICES - 2
        )
        for p in updates:
            # A new price in force from the moment it is ingested.
            new = self.valid_price(p, rng.choice(["0.3", "0.6", "0.9"]))
            self.prices.append((p.sku, new, ""))
            self.in_force[p.sku] = new
        for p in future:
            # Announced for next month: not in force yet.
            self.prices.append(
                (
                    p.sku,
                    self.valid_price(p, "0.5"),
                    (self.today + dt.timedelta(days=30)).isoformat(),
                )
            )
        for p in past:
            # Dated three days ago: it starts before the catalog price ingested today, which wins.
            self.prices.append(
                (p.sku, self.valid_price(p, "0.4"), (self.today - dt.timedelta(days=3)).isoformat())
            )
        for p, bad in zip(
            breaking,
            [
                breaking[0].mrp + Decimal("5.00"),
                _money(breaking[1].cost * Decimal("0.9")),
                *[_money(w.mrp * Decimal("0.85")) for w in breaking[2:]],
            ],
            strict=True,
        ):
            # Kept out: the catalog price stays in force, and the SKU's price sync is blocked.
            self.prices.append((p.sku, bad, ""))
            self.gold.append(
                GoldRow(p.sku, "", "Price_Rule_Violation", self.broken_rule(p, bad), str(bad))
            )

    # -- channels ----------------------------------------------------------
    def atp(self, product: DemoProduct, channel: tuple) -> int:
        """PRODUCT.md's ATP with the channel's policy: floor(A × share / 100), minus the
        buffer taken on A, never below 0, 0 at or below zero_at, at most the cap."""
        code, _, _, _, locations, buffer = channel
        policy = POLICIES.get(code, NO_POLICY)
        available = sum(max(product.stock[loc], 0) for loc in locations)
        units = (
            math.ceil(Decimal(buffer[:-1]) * available / 100)
            if buffer.endswith("%")
            else int(buffer)
        )
        atp = max(0, math.floor(available * policy["share_pct"] / 100) - units)
        if policy["zero_at"] and atp <= policy["zero_at"]:
            atp = 0
        return atp if policy["max_units"] is None else min(atp, policy["max_units"])

    def withheld(self, product: DemoProduct, code: str) -> bool:
        """A luxury category on a channel it excludes, or the assortment's withholding."""
        return (product.category == "watches" and code == "amazon") or (
            code == "pos" and product.category in POS_WITHHELD
        )

    def build_listings(self) -> None:
        rng = self.rng
        for channel in CHANNELS:
            code = channel[0]
            sellable = [p for p in self.products if p.active and not self.withheld(p, code)]
            pool = sellable[:]
            rng.shuffle(pool)
            missing = {p.sku for p in pool[: MISSING[code]]}
            pool = pool[MISSING[code] :]
            price_off = pool[: PRICE_MISMATCHES[code]]
            pool = pool[PRICE_MISMATCHES[code] :]
            above = pool[: STOCK_ABOVE[code]]
            pool = pool[STOCK_ABOVE[code] :]
            below = [p for p in pool if self.atp(p, channel) > 0][: STOCK_BELOW[code]]
            pool = [p for p in pool if p not in below]
            currency_code, currency_count = CURRENCY_MISMATCHES.get(code, ("", 0))
            other_currency = {p.sku for p in pool[:currency_count]}
            pool = pool[currency_count:]
            # Each shows its MRP raised by 5, 10 or 15 (not drawn from the demo's random
            # sequence, so the rest of the demo stays as it was).
            mrp_off = {
                p.sku: Decimal(5 * (1 + n % 3))
                for n, p in enumerate(pool[: MRP_MISMATCHES.get(code, 0)])
            }
            price_off_skus = {p.sku for p in price_off}
            above_skus = {p.sku for p in above}
            below_skus = {p.sku for p in below}
            for p in sellable:
                if p.sku in missing:
                    self.gold.append(GoldRow(p.sku, code, "Missing_SKU", "present", "null"))
                    continue
                expected_qty = self.atp(p, channel)
                expected_price = self.in_force[p.sku]
                quantity, price, currency = expected_qty, expected_price, CURRENCY
                if p.sku in above_skus:
                    quantity = expected_qty + rng.choice([1, 2, 5, 10])
                    self.gold.append(
                        GoldRow(
                            p.sku,
                            code,
                            "Stock_Mismatch",
                            str(expected_qty),
                            str(quantity),
                            _money((quantity - expected_qty) * expected_price),
                            True,
                        )
                    )
                elif p.sku in below_skus:
                    quantity = rng.randint(0, expected_qty - 1)
                    self.gold.append(
                        GoldRow(p.sku, code, "Stock_Mismatch", str(expected_qty), str(quantity))
                    )
                if p.sku in price_off_skus:
                    price = _money(
                        expected_price * Decimal(rng.choice(["0.8", "0.9", "1.1", "1.15"]))
                    )
                    if price == expected_price:
                        price += Decimal("1.00")
                    self.gold.append(
                        GoldRow(
                            p.sku,
                            code,
                            "Price_Mismatch",
                            str(expected_price),
                            str(price),
                            _money(abs(price - expected_price) * quantity),
                        )
                    )
                if p.sku in other_currency:
                    currency = currency_code
                    self.gold.append(
                        GoldRow(p.sku, code, "Currency_Mismatch", CURRENCY, currency_code)
                    )
                row = self._listing(code, p, quantity, price, currency)
                if code in SHOWS_MRP and currency == CURRENCY:
                    shown_mrp = p.mrp
                    if p.sku in mrp_off:
                        shown_mrp = p.mrp + mrp_off[p.sku]
                        self.gold.append(
                            GoldRow(p.sku, code, "MRP_Mismatch", str(p.mrp), str(shown_mrp))
                        )
                    row["mrp"] = str(shown_mrp)
                self.listings[code].append(row)
        self._special_listings()

    def _listing(
        self, code: str, p: DemoProduct, quantity: int, price: Decimal, currency: str
    ) -> dict:
        row = _snapshot_row(code, quantity, price, currency, sku_id=p.sku)
        if code == "amazon":
            row["external_id"] = f"B0{int(p.sku[4:]):08d}"
        if code == "woocommerce" and len(p.barcode) == 12 and int(p.sku[4:]) % 4 == 0:
            # Wholesale lists some items by barcode only, as EAN-13 where IMS holds the UPC-A.
            row["sku_id"] = ""
            row["barcode"] = "0" + p.barcode
        return row

    def _special_listings(self) -> None:
        """Channel-only listings, luxury items on a channel they are withheld from, a deactivated item."""
        for code, identifiers in {
            "shopify": [
                ("sku_id", "SHOP-GIFT-CARD"),
                ("sku_id", "SHOP-BUNDLE-01"),
                ("sku_id", "SHOP-SAMPLE"),
            ],
            "amazon": [("external_id", f"B0NOTINIMS{i}") for i in range(4)],
            "woocommerce": [
                ("barcode", _with_check_digit("400638133393")),
                ("barcode", _with_check_digit("501234567890")),
            ],
        }.items():
            for column, value in identifiers:
                quantity, price = (
                    self.rng.randint(1, 20),
                    _money(Decimal(self.rng.randint(500, 5000)) / 100),
                )
                self.listings[code].append(
                    _snapshot_row(code, quantity, price, CURRENCY, **{column: value})
                )
                self.gold.append(
                    GoldRow(
                        value, code, "Channel_Only_SKU", "null", "present", _money(quantity * price)
                    )
                )
        watches = [p for p in self.products if p.active and p.category == "watches"]
        for p, quantity in zip(watches[:3], [4, 1, 0], strict=True):
            self.listings["amazon"].append(
                self._listing("amazon", p, quantity, self.in_force[p.sku], CURRENCY)
            )
            if quantity > 0:
                self.gold.append(
                    GoldRow(
                        p.sku,
                        "amazon",
                        "Price_Rule_Violation",
                        "luxury_channel",
                        str(self.in_force[p.sku]),
                        oversell=True,
                    )
                )
        groceries = [p for p in self.products if p.active and p.category in POS_WITHHELD]
        for p, quantity in zip(groceries[:POS_SHOWN_ANYWAY], [3, 6], strict=True):
            self.listings["pos"].append(
                self._listing("pos", p, quantity, self.in_force[p.sku], CURRENCY)
            )
            self.gold.append(
                GoldRow(
                    p.sku,
                    "pos",
                    "Stock_Mismatch",
                    "0",
                    str(quantity),
                    _money(quantity * self.in_force[p.sku]),
                    True,
                )
            )
        retired = next(p for p in self.products if not p.active)
        self.listings["shopify"].append(
            self._listing("shopify", retired, 5, retired.price, CURRENCY)
        )
        self.gold.append(
            GoldRow(
                retired.sku,
                "shopify",
                "Stock_Mismatch",
                "0",
                "5",
                _money(5 * self.in_force[retired.sku]),
                True,
            )
        )

    def build_negative_stock(self) -> None:
        """The ERP reports a few counts below zero: IMS holds 0 and raises an oversell risk."""
        for p in self.rng.sample([p for p in self.products if p.active], NEGATIVE_STOCK):
            p.stock["STORE-SF"] = -self.rng.randint(1, 4)
            self.gold.append(
                GoldRow(p.sku, "", "Oversell_Risk", "0", str(p.stock["STORE-SF"]), oversell=True)
            )

    # -- output ------------------------------------------------------------
    def write(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        files = {kind: folder / f"{kind}.csv" for kind in INGEST_ORDER}
        write_csv(files["locations"], [*LOCATIONS_COLUMNS, *LOCATIONS_OPTIONAL], LOCATIONS)
        write_csv(
            files["channels"],
            [*CHANNELS_COLUMNS, "share_pct", "zero_at", "max_units"],
            [
                (
                    c,
                    n,
                    k,
                    m,
                    ";".join(locs),
                    b,
                    CURRENCY,
                    *(
                        "" if value is None or value == NO_POLICY[name] else value
                        for name, value in POLICIES.get(c, NO_POLICY).items()
                    ),
                )
                for c, n, k, m, locs, b in CHANNELS
            ],
        )
        write_csv(
            files["assortment"],
            ["channel", "sku_id", "publish"],
            [
                ("pos", p.sku, "no")
                for p in self.products
                if p.active and p.category in POS_WITHHELD
            ],
        )
        write_csv(files["price_rules"], PRICE_RULES_COLUMNS, PRICE_RULES)
        write_csv(
            files["catalog"],
            [*CATALOG_COLUMNS, *CATALOG_OPTIONAL],
            [
                (
                    p.sku,
                    p.name,
                    p.barcode,
                    p.category,
                    "EA",
                    p.cost,
                    p.mrp,
                    p.price,
                    CURRENCY,
                    p.status,
                    p.style,
                    ";".join(f"{k}={v}" for k, v in p.attributes.items()),
                )
                for p in self.products
            ],
        )
        # The ERP names locations by its own codes.
        erp = {code: erp_code for code, _, _, erp_code in LOCATIONS}
        write_csv(
            files["inventory"],
            INVENTORY_COLUMNS,
            [(p.sku, erp[loc], q) for p in self.products for loc, q in p.stock.items()],
        )
        write_csv(
            files["prices"],
            [*PRICES_COLUMNS, *PRICES_OPTIONAL],
            [(sku, CURRENCY, price, date) for sku, price, date in self.prices],
        )
        snapshot = [
            "channel",
            "sku_id",
            "external_id",
            "barcode",
            "quantity",
            "price",
            "currency",
            "mrp",
        ]
        for code, rows in sorted(self.listings.items()):
            path = folder / f"snapshot-{code}.csv"
            write_csv(path, snapshot, [[r[name] for name in snapshot] for r in rows])
            files[f"snapshot-{code}"] = path
        gold = sorted(self.gold, key=lambda g: (g.sku_id, g.channel, g.discrepancy))
        write_csv(
            folder / "gold-exceptions.csv",
            ["sku_id", "channel", "discrepancy", "expected", "actual", "exposure"],
            [(g.sku_id, g.channel, g.discrepancy, g.expected, g.actual, g.exposure) for g in gold],
        )
        (folder / "gold-scorecard.json").write_text(json.dumps(self.figures(), indent=2) + "\n")
        return files

    def figures(self) -> dict:
        """The scorecard figures PRODUCT.md defines, worked out from the gold rows."""
        active = [p for p in self.products if p.active]
        by_sku = {p.sku: p for p in active}
        on_channel = [g for g in self.gold if g.channel and g.sku_id in by_sku]
        pairs = {(g.sku_id, g.channel) for g in on_channel}
        # A withheld product the channel shows anyway is a pair checked, with its exception.
        shown_anyway = {(s, c) for s, c in pairs if self.withheld(by_sku[s], c)}
        pairs_checked = len(shown_anyway) + sum(
            1 for p in active for c in CHANNELS if not self.withheld(p, c[0])
        )
        unaligned = {g.sku_id for g in on_channel}
        oversell = {g.sku_id for g in self.gold if g.oversell and g.sku_id in by_sku}
        exposure = sum((g.exposure for g in self.gold), Decimal(0))
        return {
            "skus_checked": len(active),
            "skus_aligned": len(active) - len(unaligned),
            "accuracy": str(percent(len(active) - len(unaligned), len(active))),
            "exceptions": len(self.gold),
            "pairs_checked": pairs_checked,
            "pairs_with_exception": len(pairs),
            "exception_rate": str(percent(len(pairs), pairs_checked)),
            "exposure": {CURRENCY: str(_money(exposure))},
            "oversell_skus": len(oversell),
            "by_discrepancy": dict(sorted(Counter(g.discrepancy for g in self.gold).items())),
        }


def _snapshot_row(code: str, quantity: int, price: Decimal, currency: str, **named) -> dict:
    """A listing as a snapshot file shows it, `named` by sku_id, barcode or external_id."""
    return {
        "channel": code,
        "sku_id": "",
        "quantity": quantity,
        "price": str(price),
        "currency": currency,
        "barcode": "",
        "external_id": "",
        "mrp": "",
        **named,
    }
