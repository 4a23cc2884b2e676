"""The analytics page and its CSV, for the signed-in shop only: the figures of its own incidents, charts drawn
by the vendored Chart.js, and one CSV row per incident that no other shop can download."""

from __future__ import annotations

import csv
import io

from plugin.extensions import db
from plugin.storage.models import Shop
from tests.analytics.test_report import shop_with_a_month
from tests.support.platforms import connect_shopify
from tests.web.test_message_templates import sign_in


def test_the_page_shows_a_ranges_figures_and_charts_for_the_signed_in_shop(app, client):
    shop_id = shop_with_a_month(app)
    assert client.get("/analytics").status_code == 401
    sign_in(app, client, shop_id)
    page = client.get("/analytics?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert "<strong>9</strong>" in page and "30.00 EUR" in page
    assert '<canvas id="by-week"' in page and "/static/vendor/chart-4.5.1.umd.min.js" in page
    assert "fulfillment late" in page and "No parcels shipped in the range." in page  # none shipped in November
    # What cost the most comes first: Correos and the mug, 30.00 EUR each, before UPS and the lamp.
    assert page.index('<td>Correos</td><td class="n">6</td>') < page.index('<td>UPS</td><td class="n">3</td>')
    assert page.index("<td>MUG</td>") < page.index("<td>LAMP</td>")
    assert client.get("/static/vendor/chart-4.5.1.umd.min.js").status_code == 200
    assert "No incidents opened" in client.get("/analytics?from=2025-01-01&to=2025-01-31").get_data(as_text=True)


def test_a_range_that_cannot_be_read_gets_a_sentence(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    for query, words in (("from=2026-12-01&to=2026-11-01", "must not be after"),
                         ("from=yesterday", "YYYY-MM-DD"), ("from=2020-01-01&to=2026-01-01", "at most")):
        r = client.get(f"/analytics?{query}")
        assert r.status_code == 400 and words in r.get_data(as_text=True)


def test_the_csv_has_one_row_per_incident_of_this_shop_and_none_of_another(app, client):
    shop_id = shop_with_a_month(app)
    other, _ = connect_shopify(app, domain="otra.myshopify.com")
    sign_in(app, client, shop_id)
    r = client.get("/analytics.csv?from=2026-11-01&to=2026-11-30")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert 'filename="redress-incidents-2026-11-01-2026-11-30.csv"' in r.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(table) == 9 and set(table[0]) == {
        "id", "opened_at", "resolved_at", "kind", "responsibility", "status", "carrier", "country", "skus",
        "compensation_total", "currency", "first_message_minutes"}
    late = [row for row in table if row["kind"] == "fulfillment_late"]
    assert {row["compensation_total"] for row in late} == {"5.00"} and late[0]["skus"] == "MUG"
    assert sorted(float(row["first_message_minutes"]) for row in late) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    with db(app).session() as s:
        s.get(Shop, other).active = True
    client.get("/settings/logout")
    sign_in(app, client, other)
    theirs = list(csv.DictReader(io.StringIO(client.get("/analytics.csv?from=2026-11-01&to=2026-11-30")
                                             .get_data(as_text=True))))
    assert theirs == []
