"""Every order keeps what the desk filters and analytics count by: its lines (SKU, title, quantity), where it
goes (country and region) and the shipping service chosen, from both platforms' webhooks and from
reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.base import PayloadError, country_code, line_item
from jobs import reconcile
from plugin.extensions import db
from plugin.storage.models import Order, OrderItem
from simulated.shopify import order_node
from tests.intake.test_reconcile import fast_retry, shopify, woo  # noqa: F401  (fixtures)
from tests.support.platforms import (
    connect_shopify,
    connect_woocommerce,
    post_shopify,
    post_wc,
    shopify_sample,
    wc_order,
)
from tests.support.work import run_worker

NOW = datetime.now(UTC).replace(microsecond=0)


def lines(app, platform_order_id: str) -> list[tuple[int, str | None, str, int]]:
    with db(app).session() as s:
        return [(i.id, i.sku, i.title, i.quantity) for i in s.execute(
            select(OrderItem).join(Order).where(Order.platform_order_id == platform_order_id)
            .order_by(OrderItem.id)).scalars()]


def destination(app, platform_order_id: str) -> tuple:
    with db(app).session() as s:
        o = s.execute(select(Order).where(Order.platform_order_id == platform_order_id)).scalar_one()
        return o.country, o.region, o.service


def test_a_shopify_order_keeps_its_lines_and_destination_and_a_repeat_rewrites_nothing(app, client):
    connect_shopify(app)
    sample = shopify_sample("orders_create")
    post_shopify(client, sample, topic="orders/paid")
    run_worker(app)
    assert destination(app, "820982911946154508") == ("US", "KY", "Generic Shipping")
    first = lines(app, "820982911946154508")
    assert [(sku, title, qty) for _, sku, title, qty in first] == [
        ("SKU2006-001", "Aviator sunglasses", 1), ("LENS-PROTECT-2YR", "Lens Protection Plan (2 Year)", 1),
        ("CASE-LEATHER-PREM", "Premium Leather Case", 1), ("SKU2006-020", "Mid-century lounger", 1),
        ("SKU2006-035", "Coffee table", 1)]

    later = dict(sample, updated_at=(NOW + timedelta(minutes=1)).isoformat(), name="#9999")
    post_shopify(client, later, topic="orders/updated")  # the same lines, news elsewhere
    run_worker(app)
    assert lines(app, "820982911946154508") == first  # the same rows, not deleted and written again

    edited = dict(later, updated_at=(NOW + timedelta(minutes=2)).isoformat(),
                  line_items=[dict(sample["line_items"][0], quantity=2)])
    post_shopify(client, edited, topic="orders/edited")
    run_worker(app)
    assert [(sku, qty) for _, sku, _, qty in lines(app, "820982911946154508")] == [("SKU2006-001", 2)]


def test_a_woocommerce_order_keeps_its_lines_with_their_names_as_customers_read_them(app, client):
    shop_id, _ = connect_woocommerce(app)
    post_wc(client, shop_id, wc_order())
    run_worker(app)
    assert [line[1:] for line in lines(app, "727")] == [
        (None, "Woo Single #1", 2), ("Bar3", "Ship Your Idea – Color: Black, Size: M Test", 1)]
    assert destination(app, "727") == ("US", "CA", "Flat Rate")


def test_a_virtual_woocommerce_order_goes_where_its_billing_address_is(app, client):
    shop_id, _ = connect_woocommerce(app)
    post_wc(client, shop_id, wc_order(shipping={"country": "", "state": ""}, shipping_lines=[],
                                      billing={**wc_order()["billing"], "country": "es", "state": "C"}))
    run_worker(app)
    assert destination(app, "727") == ("ES", "C", None)


def test_reconciliation_brings_the_lines_and_destination_of_orders_whose_webhooks_were_lost(app, shopify):  # noqa: F811
    shopify.add(order_node(1001, created_at=NOW - timedelta(hours=3), updated_at=NOW - timedelta(hours=1),
                           country="ES", region="GA", service="Correos Express 24h",
                           lines=[("MUG-BLUE", "Taza azul", 2), (None, "Tarjeta regalo", 1)]))
    [result] = reconcile.run(retry=fast_retry())
    assert result["finished"]
    run_worker(app)
    assert destination(app, "1001") == ("ES", "GA", "Correos Express 24h")
    assert [(sku, title, qty) for _, sku, title, qty in lines(app, "1001")] == [
        ("MUG-BLUE", "Taza azul", 2), (None, "Tarjeta regalo", 1)]


def test_a_woocommerce_reconciliation_brings_the_same_lines_as_its_webhook(app, woo):  # noqa: F811
    woo.add(wc_order(id=3001, number="3001"))
    [result] = reconcile.run(retry=fast_retry())
    assert result["finished"]
    run_worker(app)
    assert [(sku, qty) for _, sku, _, qty in lines(app, "3001")] == [(None, 2), ("Bar3", 1)]
    assert destination(app, "3001") == ("US", "CA", "Flat Rate")


@given(st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.text(max_size=12), st.floats(),
                 st.lists(st.integers(), max_size=2)))
def test_a_quantity_is_a_whole_number_or_a_clear_payload_error(value):
    try:
        item = line_item("SKU", "Thing", value)
    except PayloadError as exc:
        assert "quantity" in str(exc)
    else:
        assert isinstance(item.quantity, int) and item.quantity >= 0


@pytest.mark.parametrize(("raw", "code"), [("es", "ES"), ("ES ", "ES"), ("USA", None), ("", None), (None, None),
                                           ("1A", None), ("ÉS", None)])
def test_a_country_is_a_two_letter_code_or_none(raw, code):
    assert country_code(raw) == code
