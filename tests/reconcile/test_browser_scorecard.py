"""The scorecard page in a real browser (Debian Chromium via Playwright): its charts drawn
from our own plotly.js, and every figure, row and bar opening the matching exceptions."""

import pytest
from playwright.sync_api import expect

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
    page.wait_for_selector("#chart-accuracy-by-channel .main-svg")  # drawn from our own file
    # One run is no trend: the chart says it waits for the second, not one full-width bar.
    expect(page.locator("[data-trend-waits]")).to_contain_text("after the second reconcile")
    reconcile(out_dir=tmp_path)
    page.reload()
    page.wait_for_selector("#chart-trend .main-svg")


def test_every_scorecard_figure_row_and_bar_opens_the_matching_exceptions(
    world, ingest, user_with_role, page, login, tmp_path
):
    # shop shows A-1 above what IMS can sell (no stock): a stock mismatch with oversell risk;
    # market shows B-2 at another price: a price mismatch.
    ingest(
        "snapshot",
        "channel,sku_id,quantity,price,currency\nshop,A-1,4,25.00,USD\nmarket,B-2,0,1.00,USD\n",
    )
    reconcile(out_dir=tmp_path)
    user_with_role(Role.OPS, "olivia")
    login("olivia")
    figure = page.locator('[data-figure="oversell_skus"]')
    skus = int(figure.inner_text().split()[0])
    assert skus >= 1
    expect(page.locator('[data-figure="oversell_rate"]')).to_contain_text("% of SKUs checked")

    page.click('[data-drill="oversell_skus"]')
    expect(page.locator("#results tr[data-sku]")).to_have_count(skus)
    assert "oversell=true" in page.url and "discrepancy=Stock_Mismatch" in page.url
    expect(page.locator('#results tr[data-sku="A-1"]')).to_be_visible()
    # The filter is on the page: the tabs count under it, and changing another filter keeps it.
    expect(page.locator("select[name=oversell]")).to_have_value("true")
    expect(page.locator('[data-count="Stock_Mismatch"]')).to_have_text(str(skus))
    expect(page.locator('[data-count="Price_Mismatch"]')).to_have_text("0")
    page.select_option("select[name=channel]", "shop")
    expect(page.locator("#results tr[data-sku]")).to_have_count(1)
    assert "oversell=true" in page.url

    page.goto("/")
    page.locator('[data-drill="channel"]', has_text="market").click()
    assert "channel=market" in page.url
    expect(page.locator("#results tr[data-sku]").first).to_have_attribute("data-channel", "market")

    page.goto("/")
    page.locator('[data-drill="discrepancy"]', has_text="Stock mismatch").click()
    expect(page.locator("[aria-current=page][data-tab]")).to_have_attribute(
        "data-tab", "Stock_Mismatch"
    )

    page.goto("/")
    # Bars by channel code: market (no exposure, no bar to see), then shop.
    page.locator("#chart-exposure-by-channel").scroll_into_view_if_needed()
    box = page.locator("#chart-exposure-by-channel .bars .point path").nth(1).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # as a person
    page.wait_for_url("**/exceptions/?channel=shop*")
    expect(page.locator("#results tr[data-sku]").first).to_be_visible()
