"""The monthly "what to fix" report: last month's causes ranked by cost, each against the month before, once,
from the 1st at 08:00 shop time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from jobs import notify, use_app
from plugin.extensions import config, db
from plugin.storage.models import Compensation, Incident, Message, Order, OrderItem, Shop
from tests.support import smtp as smtp_server
from tests.support.platforms import connect_shopify

DEC_1 = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # the shop is on UTC


@pytest.fixture
def inbox(app):
    use_app(app)
    box, controller, url = smtp_server.start()
    config(app).smtp_url = url
    yield box
    controller.stop()


def incidents(app, shop_id, n, opened, *, carrier=None, region=None, sku=None, fault="carrier",
              kind="transit_stalled", coupon=None):
    with db(app).session() as s:
        for k in range(n):
            key = f"{opened:%m%d}-{carrier}-{sku}-{k}"
            order = Order(shop_id=shop_id, platform_order_id=key, number=f"#{key}", total=Decimal("40"),
                          currency="EUR", carrier=carrier, country="ES" if carrier else None, region=region,
                          facts={}, items=[OrderItem(shop_id=shop_id, sku=sku, title=sku)] if sku else [])
            inc = Incident(shop_id=shop_id, order=order, kind=kind, responsibility=fault, status="open",
                           evidence=[], opened_at=opened + timedelta(minutes=k))
            if coupon:
                inc.compensations.append(Compensation(action="coupon_percent", percent=Decimal(10), value=coupon,
                                                      currency="EUR", state="issued", idempotency_key=f"m-{key}"))
            s.add(inc)
        s.commit()


def test_the_first_of_the_month_brings_one_report_of_what_to_fix(app, inbox):
    shop_id, _ = connect_shopify(app)
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        shop.policy = {**shop.policy, "communication": {"team_emails": ["ops@tienda.example"]}}
        s.commit()
    nov, oct_ = datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 10, 10, tzinfo=UTC)
    incidents(app, shop_id, 31, nov, carrier="Correos", region="GA", coupon=Decimal("2.40"))
    incidents(app, shop_id, 10, oct_, carrier="Correos", region="GA")
    incidents(app, shop_id, 4, nov, sku="MUG-BLUE", fault="shop", kind="fulfillment_late", coupon=Decimal("5"))
    incidents(app, shop_id, 2, nov, fault="payment", kind="payment_failed")

    assert notify.digest(DEC_1 - timedelta(hours=1))["monthly"] == 0  # 07:30 on the 1st: not yet
    assert notify.digest(DEC_1)["monthly"] == 1
    assert notify.digest(DEC_1 + timedelta(hours=5))["monthly"] == 0  # once a month
    with db(app).session() as s:
        [report] = s.execute(select(Message).where(Message.key == f"shop:{shop_id}:monthly:2026-11")).scalars()
        notify.send(report.id)
    [mail] = [m for m in inbox.parsed() if "what to fix" in m["Subject"]]
    assert mail["Subject"] == "snowdevil.myshopify.com: what to fix, November 2026"
    lines = [line for line in smtp_server.text_of(mail).splitlines() if line.startswith("- ")]
    assert lines == [
        "- Correos to GA, ES: 31 incidents, 74.40 EUR in compensation; 3.1× the month before (10).",
        "- Product MUG-BLUE: 4 incidents, 20.00 EUR in compensation; new this month.",
        "- Payment failed (payment): 2 incidents, nothing in compensation; new this month.",
    ]


def test_a_month_without_incidents_sends_no_report(app, inbox):
    shop_id, _ = connect_shopify(app)
    assert notify.digest(DEC_1)["monthly"] == 0
