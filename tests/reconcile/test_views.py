import pytest

from reconcile.reconcile import reconcile

pytestmark = pytest.mark.django_db


def test_the_scorecard_page_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_scorecard_page_shows_the_same_figures_as_the_report(
    world, ingest, client, user_with_role, tmp_path, now
):
    ingest("snapshot", "channel,sku_id,quantity,price,currency\nshop,A-1,1,25.00,USD\n")
    reconcile(out_dir=tmp_path, now=now)
    from ims.roles import Role

    client.force_login(user_with_role(Role.OPS))
    page = client.get("/").content.decode()
    report = (tmp_path / "scorecard.html").read_text()
    for figure in (
        "skus_checked",
        "accuracy",
        "exceptions",
        "exception_rate",
        "exposure",
        "oversell_skus",
    ):
        marker = f'data-figure="{figure}">'
        assert page.split(marker)[1].split("<")[0] == report.split(marker)[1].split("<")[0]
    assert "/static/vendor/plotly-basic/plotly-basic.min.js" in page
    # One offline file, under 1.5 MB: plotly.js's basic bundle inlined, not the whole library.
    assert len((tmp_path / "scorecard.html").read_bytes()) < 1_500_000


def test_plotly_is_served_from_our_own_static_files_at_the_python_side_s_version(client):
    """The basic bundle (scatter, bar, pie: every trace IMS draws) is vendored; it must be the
    plotly.js the installed plotly package speaks (upgrade both together)."""
    from django.contrib.staticfiles import finders
    from plotly.offline import get_plotlyjs_version

    bundle = finders.find("vendor/plotly-basic/plotly-basic.min.js")
    with open(bundle) as handle:
        assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in handle.read(300)
