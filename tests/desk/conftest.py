"""Two shops for the desk's tests: A with four incidents of different kinds, carriers, destinations and
products, and B with one that A must never see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plugin.extensions import db
from plugin.storage.crypto import hash_token
from plugin.storage.models import Incident, OrderItem, Shop
from plugin.vocabulary import Kind, Responsibility
from tests.support.platforms import connect_woocommerce, wake
from tests.support.status import status_incident, status_shop

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def shops(app):
    """Shop A (with its API token) and shop B, each with incidents; A's carry lines, carriers and countries."""
    a = status_shop(app)
    with db(app).session() as s:
        s.get(Shop, a).api_token_hash = hash_token("token-a")
        s.commit()
    wake(app)
    ids = []
    for n, (kind, who, carrier, country) in enumerate([
            (Kind.FULFILLMENT_LATE, Responsibility.SHOP, None, "ES"),
            (Kind.TRANSIT_STALLED, Responsibility.CARRIER, "Correos", "ES"),
            (Kind.TRANSIT_STALLED, Responsibility.CARRIER, "UPS", "PT"),
            (Kind.PAYMENT_FAILED, Responsibility.PAYMENT, None, "ES")]):
        inc, _ = status_incident(app, a, number=f"#10{n}", kind=kind, responsibility=who, country=country,
                                 opened=NOW - timedelta(days=5 - n))
        with db(app).session() as s:
            i = s.get(Incident, inc)
            i.order.carrier, i.order.country = carrier, country
            i.order.customer_email = f"customer{n}@example.es"
            i.order.items.append(OrderItem(shop_id=a, sku=f"SKU-{n % 2}", title="Mug", quantity=1))
            s.commit()
        ids.append(inc)
    b, token_b = connect_woocommerce(app)
    theirs, _ = status_incident(app, b, number="#900")
    return {"a": a, "ids": ids, "b": b, "token_b": token_b, "theirs": theirs}
