"""The scorecard page in a real browser (Debian Chromium via Playwright)."""

import pytest

from ims.roles import Role
from reconcile.reconcile import reconcile

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_an_ops_user_logs_in_and_sees_the_scorecard_with_its_charts(
    world, ingest, user_with_role, page, login, tmp_path
):
    ingest("snapshot", "channel,sku_id,quantity,price,currency\nshop,A-1,1,25.00,USD\n")
    reconcile(out_dir=tmp_path)
    user_with_role(Role.OPS, "olivia")
    login("olivia")
    assert page.locator('[data-figure="skus_checked"]').inner_text() == "3"
    page.wait_for_selector("#chart-trend .main-svg")  # plotly drew it from our own static file
    assert page.locator("#chart-accuracy-by-channel .main-svg").count() >= 1
