"""Uninstall and the mandatory privacy topics: export, erase, delete."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from plugin import db
from plugin.models import DataExport, Incident, Order, Shop, WebhookDelivery
from tests.support.platforms import SHOP_DOMAIN, connect_shopify, post_shopify, shopify_order, shopify_sample
from tests.support.work import count, deliveries, incidents, run_worker

ORDER_ID = "820982911946154508"


def declined(client):
    post_shopify(client, shopify_order(cancel_reason="declined", email="jon@example.com"))


def test_uninstall_stops_processing_orders_but_keeps_the_data(app, client):
    shop_id, _ = connect_shopify(app)
    declined(client)
    run_worker(app)
    post_shopify(client, {"id": 1, "domain": SHOP_DOMAIN}, topic="app/uninstalled")
    run_worker(app)
    with db(app).session() as s:
        assert s.get(Shop, shop_id).active is False
    post_shopify(client, shopify_order(id=2, name="#2", cancel_reason="declined"))
    run_worker(app)
    assert len(incidents(app)) == 1
    assert "no active shop" in deliveries(app)[-1].error


def test_a_data_request_exports_the_customers_orders_and_incidents(app, client):
    shop_id, _ = connect_shopify(app)
    declined(client)
    run_worker(app)
    request = shopify_sample("customers_data_request")
    request.update(shop_domain=SHOP_DOMAIN, customer={"id": 191167, "email": "jon@example.com"},
                   orders_requested=[int(ORDER_ID)], data_request={"id": 9999})
    post_shopify(client, request, topic="customers/data_request")
    run_worker(app)
    with db(app).session() as s:
        [export] = s.execute(select(DataExport)).scalars()
        assert export.shop_id == shop_id and export.request_ref == "9999"
        assert [o["id"] for o in export.data["orders"]] == [ORDER_ID]
        assert export.data["incidents"][0]["kind"] == "payment_failed"


def test_redacting_a_customer_erases_them_and_keeps_anonymous_counts(app, client):
    connect_shopify(app)
    declined(client)
    run_worker(app)
    redact = shopify_sample("customers_redact")
    redact.update(shop_domain=SHOP_DOMAIN, customer={"id": 191167, "email": "jon@example.com"},
                  orders_to_redact=[int(ORDER_ID)])
    post_shopify(client, redact, topic="customers/redact")
    run_worker(app)
    with db(app).session() as s:
        order = s.execute(select(Order)).scalar_one()
        assert order.customer_email is None and order.facts["customer_name"] is None
        assert order.facts["customer_email"] is None
        assert s.execute(select(Incident)).scalar_one().kind == "payment_failed"  # the count stays
        bodies = [d.body for d in s.execute(select(WebhookDelivery)).scalars()]
    assert not any(b"jon@example.com" in b for b in bodies)
    assert not any(b"John" in b for b in bodies if b != json.dumps(redact).encode())


def test_shop_redact_deletes_everything_of_the_shop(app, client):
    shop_id, _ = connect_shopify(app)
    declined(client)
    run_worker(app)
    post_shopify(client, {"id": 1, "domain": SHOP_DOMAIN}, topic="app/uninstalled")
    post_shopify(client, {"shop_id": 954889, "shop_domain": SHOP_DOMAIN}, topic="shop/redact")
    run_worker(app)
    with db(app).session() as s:
        assert s.get(Shop, shop_id) is None
    assert count(app, Order) == 0 and count(app, Incident) == 0
    assert all(d.shop_id is None and d.processed_at for d in deliveries(app))


def test_the_merchant_downloads_a_data_request_from_the_settings_page_and_no_other_shop_can(app, client):
    from tests.support.platforms import connect_woocommerce
    from tests.test_settings import sign_in

    shop_id, _ = connect_shopify(app)
    declined(client)
    request = shopify_sample("customers_data_request")
    request.update(shop_domain=SHOP_DOMAIN, customer={"id": 191167, "email": "jon@example.com"},
                   orders_requested=[int(ORDER_ID)], data_request={"id": 9999})
    post_shopify(client, request, topic="customers/data_request")
    run_worker(app)
    sign_in(app, client, shop_id)
    page = client.get("/settings").get_data(as_text=True)
    link = re.search(r'href="(/settings/data-requests/\d+\.json)"', page).group(1)
    data = client.get(link).get_json()
    assert data["customer_email"] == "jon@example.com" and data["orders"][0]["id"] == ORDER_ID
    other_id, _ = connect_woocommerce(app)
    other = app.test_client()
    sign_in(app, other, other_id)
    assert other.get(link).status_code == 404
