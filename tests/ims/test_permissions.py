"""Every page and API endpoint, for every role: the allow/deny matrix.

`ALL` is every role; a role not in an endpoint's set must get 403 (pages and API
alike), anonymous visitors are sent to log in (pages) or get 401 (API).
"""

import pytest
from rest_framework.test import APIClient

from ims.roles import Role

pytestmark = pytest.mark.django_db

ALL = set(Role)
CM, PRICING, OPS, STORE, FINANCE, ADMIN, SUPER = (
    Role.CATALOG_MANAGER,
    Role.PRICING,
    Role.OPS,
    Role.STORE_STAFF,
    Role.FINANCE,
    Role.ADMIN,
    Role.SUPERADMIN,
)
CATALOG_EDITORS = {CM, ADMIN, SUPER}
TRIAGERS = {OPS, ADMIN, SUPER}
ADMINS = {ADMIN, SUPER}
QUARANTINE_DECIDERS = {STORE, ADMIN, SUPER}  # orders.release_quarantine
RECEIVERS = {OPS, STORE, ADMIN, SUPER}  # inventory.receive_stock
VENDOR_SHIPPERS = {STORE, ADMIN, SUPER}  # inventory.add_vendorreturn
FINANCE_DOCS = {FINANCE, ADMIN, SUPER}  # inventory.add_creditnote, inventory.close_vendorreturn
TRANSFERRERS = {OPS, STORE, ADMIN, SUPER}  # inventory.add_transfer, receive_transfer
RETURN_DESK = {STORE, ADMIN, SUPER}  # orders.add_customerreturn, orders.inspect_customerreturn
ASSORTERS = {OPS, ADMIN, SUPER}  # channels.change_channelassortment
PUBLISHERS = {CM, OPS, ADMIN, SUPER}  # channels.publish_listing

# (method, path, body, roles allowed)
MATRIX = [
    ("get", "/", None, ALL),
    ("get", "/exceptions/", None, ALL),
    ("get", "/exceptions/counts/", None, ALL),
    ("get", "/exceptions/export.csv", None, ALL),
    ("post", "/exceptions/acknowledge/", {"ids": ["1"], "reason": "r"}, TRIAGERS),
    ("get", "/products/", None, ALL),
    ("get", "/products/A-1/", None, ALL),
    ("get", "/products/new/", None, CATALOG_EDITORS),
    ("get", "/products/A-1/edit/", None, CATALOG_EDITORS),
    ("get", "/api/products/", None, ALL),
    ("post", "/api/products/", {"sku_id": "Z"}, CATALOG_EDITORS),
    ("patch", "/api/products/A-1/", {"name": "Shirt"}, CATALOG_EDITORS),
    ("get", "/api/stock-levels/", None, ALL),
    ("get", "/api/channels/", None, ALL),
    ("post", "/api/channels/shop/pause/", {"reason": "r"}, ADMINS),
    ("post", "/api/channels/shop/resume/", {}, ADMINS),
    ("get", "/api/listings/", None, ALL),
    ("get", "/api/exceptions/", None, ALL),
    ("post", "/api/exceptions/acknowledge/", {"ids": [1], "reason": "r"}, TRIAGERS),
    ("get", "/api/reconcile-runs/", None, ALL),
    ("get", "/api/schema/", None, ALL),
    # price governance and the audit trail
    ("get", "/pricing/change/", None, {PRICING, ADMIN, SUPER}),
    ("get", "/pricing/rules/", None, ADMINS),
    ("get", "/pricing/governance/", None, {SUPER}),
    ("get", "/audit/", None, {SUPER}),
    ("get", "/audit/export.csv", None, {SUPER}),
    ("get", "/api/audit/", None, {SUPER}),
    # orders
    ("get", "/api/orders/", None, ALL),
    ("post", "/api/orders/999999/dispatch/", {"lines": []}, {OPS, STORE, ADMIN, SUPER}),
    ("post", "/api/orders/999999/cancel/", {}, {OPS, STORE, ADMIN, SUPER}),
    ("post", "/api/orders/999999/backorder/", {"decision": "cancel"}, ADMINS),
    # channel syncs
    ("get", "/channels/runs/", None, ALL),
    ("post", "/channels/shop/sync/", {}, ADMINS),
    # stock flows: the quarantine and receiving deliveries
    ("get", "/stock/quarantine/", None, ALL),
    ("get", "/stock/quarantine/export.csv", None, ALL),
    (
        "post",
        "/stock/quarantine/release/",
        {"level": "999999", "quantity": "1", "reason": "r"},
        QUARANTINE_DECIDERS,
    ),
    (
        "post",
        "/stock/quarantine/write-off/",
        {"level": "999999", "quantity": "1", "reason": "r"},
        QUARANTINE_DECIDERS,
    ),
    ("get", "/stock/receive/", None, RECEIVERS),
    (
        "post",
        "/stock/receive/",
        {"sku": "A-1", "location": "WH", "quantity": "1", "reference": "r"},
        RECEIVERS,
    ),
    ("get", "/api/stock/quarantine/", None, ALL),
    (
        "post",
        "/api/stock/quarantine/release/",
        {"sku_id": "A-1", "location": "WH", "quantity": 1, "reason": "r"},
        QUARANTINE_DECIDERS,
    ),
    (
        "post",
        "/api/stock/quarantine/write-off/",
        {"sku_id": "A-1", "location": "WH", "quantity": 1, "reason": "r"},
        QUARANTINE_DECIDERS,
    ),
    (
        "post",
        "/api/stock/receive/",
        {"sku_id": "A-1", "location": "WH", "quantity": 1, "reference": "r"},
        RECEIVERS,
    ),
    # vendor returns and Finance
    ("get", "/stock/vendor-returns/", None, ALL),
    ("get", "/stock/vendor-returns/export.csv", None, ALL),
    ("post", "/stock/vendor-returns/", {"sku": "A-1"}, VENDOR_SHIPPERS),
    ("post", "/stock/vendor-returns/999999/credit-note/", {"number": "N"}, FINANCE_DOCS),
    ("get", "/finance/", None, FINANCE_DOCS),
    ("get", "/finance/customer-returns.csv", None, FINANCE_DOCS),
    ("get", "/finance/credit-notes.csv", None, FINANCE_DOCS),
    ("get", "/api/stock/vendor-returns/", None, ALL),
    ("post", "/api/stock/vendor-returns/", {"vendor": "V"}, VENDOR_SHIPPERS),
    (
        "post",
        "/api/stock/vendor-returns/999999/credit-note/",
        {"number": "N", "amount": "1", "currency": "USD", "issued_on": "2026-12-01"},
        FINANCE_DOCS,
    ),
    ("post", "/api/stock/vendor-returns/999999/close/", {"credit_note": 1}, FINANCE_DOCS),
    # transfers between locations
    ("get", "/stock/transfers/", None, ALL),
    ("get", "/stock/transfers/export.csv", None, ALL),
    (
        "post",
        "/stock/transfers/send/",
        {"sku": "A-1", "source": "WH", "destination": "NYC", "quantity": "1", "reason": "r"},
        TRANSFERRERS,
    ),
    ("post", "/stock/transfers/999999/receive/", {}, TRANSFERRERS),
    ("get", "/api/stock/transfers/", None, ALL),
    (
        "post",
        "/api/stock/transfers/send/",
        {"sku_id": "A-1", "source": "WH", "destination": "NYC", "quantity": 1, "reason": "r"},
        TRANSFERRERS,
    ),
    ("post", "/api/stock/transfers/999999/receive/", {}, TRANSFERRERS),
    # SLAs
    ("get", "/sla/", None, ALL),
    ("post", "/sla/tasks/999999/close/", {"resolution": "done"}, {OPS, STORE, ADMIN, SUPER}),
    # POS override approvals (orders.approve_pos_override decides; everyone sees them)
    ("get", "/stock/pos-overrides/", None, ALL),
    ("get", "/stock/pos-overrides/?status=all", None, ALL),
    ("get", "/stock/pos-overrides/export.csv", None, ALL),
    ("post", "/stock/pos-overrides/999999/decide/", {"decision": "approve", "reason": "r"}, ADMINS),
    ("get", "/api/orders/pos-sales/", None, ALL),
    ("get", "/api/orders/pos-sales/999999/", None, ALL),
    ("post", "/api/orders/pos-sales/999999/approve/", {"reason": "r"}, ADMINS),
    ("post", "/api/orders/pos-sales/999999/reject/", {"reason": "r"}, ADMINS),
    # customer returns received at a store, then inspected
    ("get", "/stock/returns/", None, ALL),
    ("get", "/stock/returns/export.csv", None, ALL),
    ("post", "/stock/returns/", {"channel": "shop", "order": "404"}, RETURN_DESK),
    ("post", "/stock/returns/999999/inspect/", {"sku": "A-1"}, RETURN_DESK),
    ("get", "/api/orders/returns/", None, ALL),
    ("post", "/api/orders/returns/", {"channel": "shop"}, RETURN_DESK),
    ("post", "/api/orders/returns/999999/inspect/", {"lines": []}, RETURN_DESK),
    # what each channel offers
    ("get", "/channels/shop/assortment/", None, ALL),
    ("get", "/channels/shop/assortment/export.csv", None, ALL),
    ("post", "/channels/shop/assortment/", {"scope": "matching"}, ASSORTERS),
    ("get", "/api/channels/shop/assortment/", None, ALL),
    ("post", "/api/channels/shop/assortment/", {"skus": ["NOPE"]}, ASSORTERS),
    # listings created from IMS
    ("get", "/channels/publish/?sku=A-1", None, ALL),
    ("post", "/channels/shop/publish/", {"sku": "NOPE"}, PUBLISHERS),
    ("post", "/exceptions/publish/", {"ids": ["999999"]}, PUBLISHERS),
    ("get", "/api/channels/shop/publish/", None, ALL),
    ("post", "/api/channels/shop/publish/", {"skus": ["NOPE"]}, PUBLISHERS),
]


def call(client, method, path, body):
    if path.startswith("/api/"):
        return getattr(client, method)(path, body, format="json")
    return getattr(client, method)(path, body or {})


@pytest.mark.parametrize(
    "method, path, body, allowed", MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX]
)
def test_each_role_is_allowed_or_refused_as_the_matrix_says(
    world, user_with_role, method, path, body, allowed
):
    for role in Role:
        client = APIClient()
        client.force_login(user_with_role(role, f"user-{role.name.lower()}"))
        status = call(client, method, path, body).status_code
        if role in allowed:
            assert status not in (401, 403), (
                f"{role} should be allowed {method} {path}, got {status}"
            )
        else:
            assert status == 403, f"{role} should be refused {method} {path}, got {status}"


@pytest.mark.parametrize(
    "method, path, body, allowed", MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX]
)
def test_anonymous_visitors_are_sent_to_log_in(world, method, path, body, allowed):
    response = call(APIClient(), method, path, body)
    if path.startswith("/api/"):
        assert response.status_code == 401
    else:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_only_admins_and_superadmins_reach_the_admin_site(world, user_with_role, client):
    for role in Role:
        client.force_login(user_with_role(role, f"admin-{role.name.lower()}"))
        status = client.get("/admin/").status_code
        assert (status == 200) == (role in ADMINS), role
