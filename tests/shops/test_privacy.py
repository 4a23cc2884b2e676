"""Uninstall and the mandatory privacy topics: export, erase, delete."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from plugin.extensions import db
from plugin.storage.models import DataExport, Incident, Message, Order, Shop, WebhookDelivery
from tests.support.platforms import SHOP_DOMAIN, connect_shopify, post_shopify, shopify_order, shopify_sample, wake
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
    wake(app)  # daytime for the shop: the message goes now, whatever the hour
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
        # What the shop wrote to them is theirs too.
        [told] = export.data["messages"]
        assert (told["purpose"], told["to"]) == ("opened", "jon@example.com") and "#9999" in told["subject"]


def test_redacting_a_customer_erases_them_and_keeps_anonymous_counts(app, client):
    connect_shopify(app)
    wake(app)  # daytime for the shop: the message goes now, whatever the hour
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
        [told] = s.execute(select(Message)).scalars()
        assert (told.purpose, told.to_address, told.subject, told.body_text, told.body_html) == (
            "opened", None, None, "", None)  # that a message went stays; what it said to whom goes
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
    from tests.web.test_settings import sign_in

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


def _customer_order(order_id: int, email: str | None, **changes) -> dict:
    body = json.dumps(shopify_order(id=order_id, name=f"#{order_id}", **changes))
    if email != "jon@example.com":  # the sample names Jon: another customer's order must not
        body = body.replace("jon@example.com", email or "").replace("john@example.com", email or "")
    return json.loads(body)


def test_a_data_export_holds_exactly_that_customers_orders_incidents_compensations_and_deliveries(app, client):
    from datetime import UTC, datetime, timedelta

    connect_shopify(app)
    long_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    post_shopify(client, _customer_order(1001, "jon@example.com", cancel_reason="declined"))
    paid = dict(cancelled_at=None, cancel_reason=None, financial_status="paid", processed_at=long_ago,
                created_at=long_ago)
    post_shopify(client, _customer_order(1002, "jon@example.com", **paid), topic="orders/paid")
    post_shopify(client, _customer_order(1002, None, note="gift wrap", **paid))  # his order, without his address
    post_shopify(client, _customer_order(2001, "ana@example.com", cancel_reason="declined", note="not #1002"))
    run_worker(app)
    request = shopify_sample("customers_data_request")
    request.update(shop_domain=SHOP_DOMAIN, customer={"id": 191167, "email": "jon@example.com"},
                   orders_requested=[1001, 1002], data_request={"id": 77})
    post_shopify(client, request, topic="customers/data_request")
    run_worker(app)

    with db(app).session() as s:
        data = s.execute(select(DataExport)).scalar_one().data
    assert sorted(o["id"] for o in data["orders"]) == ["1001", "1002"]
    assert sorted(i["kind"] for i in data["incidents"]) == ["fulfillment_late", "payment_failed"]
    [late] = [i for i in data["incidents"] if i["kind"] == "fulfillment_late"]
    assert sorted(c["action"] for c in late["compensations"]) == ["coupon_percent", "refund_shipping"]
    bodies = [d["body"] for d in data["deliveries"]]
    assert sorted(b.get("id", 0) for b in bodies) == [0, 1001, 1002, 1002]  # 0: the data request itself
    assert {d["topic"] for d in data["deliveries"]} == {"orders/updated", "orders/paid", "customers/data_request"}
    assert "ana@example.com" not in json.dumps(data) and "2001" not in json.dumps(data)


def _loads_per_query(app):
    """Webhook rows materialized by each SELECT on the real engine (a SQLAlchemy event listener)."""
    from sqlalchemy import event

    counts: list[int] = []

    def on_query(_conn, _cursor, statement, *_):
        if statement.lstrip().upper().startswith("SELECT") and "webhook_deliveries" in statement:
            counts.append(0)

    def on_load(_target, _context):
        counts[-1] += 1

    event.listen(db(app).engine, "before_cursor_execute", on_query)
    event.listen(WebhookDelivery, "load", on_load)
    return counts, lambda: (event.remove(db(app).engine, "before_cursor_execute", on_query),
                            event.remove(WebhookDelivery, "load", on_load))


def _fill_inbox(app, shop_id: int) -> None:
    from datetime import UTC, datetime

    from plugin.intake.inbox import store

    for i in range(240):
        mine = i % 20 == 0
        body = {"id": 1001 if mine else 5000 + i, "email": "jon@example.com" if mine else f"c{i}@example.com",
                "note": "x" * 2000}
        store(db(app).engine, shop_id=shop_id, platform="shopify", topic="orders/updated", key=f"d{i}",
              body=json.dumps(body).encode(), now=datetime.now(UTC))


def test_an_erasure_reads_only_that_customers_deliveries_a_page_at_a_time(app, monkeypatch):
    from plugin.orders.facts import ShopEvent
    from plugin.shops import privacy

    shop_id, _ = connect_shopify(app)
    _fill_inbox(app, shop_id)  # 12 of Jon's among 240
    monkeypatch.setattr(privacy, "DELIVERY_PAGE", 5, raising=False)
    counts, stop = _loads_per_query(app)
    try:
        with db(app).session() as s:
            privacy.erase_customer(s, s.get(Shop, shop_id), ShopEvent("redact_customer", "jon@example.com"))
            s.commit()
    finally:
        stop()
    assert sum(counts) == 12 and max(counts) <= 5  # no other customer's body was ever loaded
    erased = [d for d in deliveries(app) if d.body == b"{}"]
    assert len(erased) == 12 and all("erased" in d.error for d in erased)
    assert sum(b"jon@example.com" in d.body for d in deliveries(app)) == 0


def test_a_data_export_reads_only_that_customers_deliveries_a_page_at_a_time(app, monkeypatch):
    from datetime import UTC, datetime

    from plugin.orders.facts import ShopEvent
    from plugin.shops import privacy

    shop_id, _ = connect_shopify(app)
    _fill_inbox(app, shop_id)
    monkeypatch.setattr(privacy, "DELIVERY_PAGE", 5, raising=False)
    event = ShopEvent("data_request", customer_email="jon@example.com", order_ids=("1001",), request_ref="1")
    counts, stop = _loads_per_query(app)
    try:
        with db(app).session() as s:
            data = privacy.export_customer(s, s.get(Shop, shop_id), event, datetime.now(UTC)).data
    finally:
        stop()
    assert [d["body"]["email"] for d in data.get("deliveries", [])] == ["jon@example.com"] * 12
    assert sum(counts) == 12 and max(counts) <= 5


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(st.fixed_dictionaries({}, optional={
    "id": st.sampled_from([1001, "1001", 2001, 10010, None]),
    "order_id": st.sampled_from([1001, 2001]),
    "email": st.sampled_from(["jon@example.com", "JON@example.com", "ana@example.com", "jon@example.co"]),
    "note": st.sampled_from(["order 1001 please", "jon@example.com", ""]),
}) | st.sampled_from([[1001], "jon@example.com", {"legacyResourceId": "1001"}]), max_size=10))
def test_the_deliveries_found_for_a_customer_are_exactly_those_a_full_scan_finds(app, bodies):
    from plugin.shops import privacy

    with db(app).session() as s:
        shop_id = s.execute(select(Shop.id)).scalar()
    shop_id = shop_id or connect_shopify(app)[0]
    with db(app).session() as s:
        s.execute(delete(WebhookDelivery))
        s.add_all(WebhookDelivery(shop_id=shop_id, platform="shopify", topic="orders/updated", delivery_key=f"k{i}",
                                  body=json.dumps(b).encode()) for i, b in enumerate(bodies))
        s.commit()
        everything = s.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()
        expected = [d.delivery_key for d in everything
                    if b"jon@example.com" in d.body or privacy._mentions(d.body, {"1001"})]
        found = privacy.customer_deliveries(s, shop_id, "jon@example.com", {"1001"})
        assert [d.delivery_key for d in found] == expected
