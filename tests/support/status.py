"""Incidents with a customer side, for the status page: a shop with its contact and team, an order, an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from plugin.compensation.policy import default_policy
from plugin.extensions import db
from plugin.messages.links import status_token
from plugin.storage.models import Incident, Order, Shop
from plugin.vocabulary import IncidentStatus, Kind, Responsibility
from tests.support.platforms import connect_shopify

# As the ledger stores an offer: each option priced and fitted to the caps for this order.
OFFER = {"rule": "Shop fault: the customer chooses", "default_after_days": 7, "deadline": "2099-01-01T00:00:00Z",
         "options": [{"action": "refund_shipping", "amount": "7.50", "percent": None, "valid_days": None,
                      "currency": "EUR"},
                     {"action": "coupon_percent", "amount": None, "percent": "15", "valid_days": 90,
                      "currency": "EUR"}]}


def status_shop(app, domain: str = "snowdevil.myshopify.com", name: str = "Snow Devil", team=("team@snowdevil.es",),
                timezone: str = "Europe/Madrid") -> int:
    shop_id, _ = connect_shopify(app, domain=domain)
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        policy = default_policy()
        policy["contact"] = {"email": "hola@snowdevil.es", "phone": "+34 910 000 000", "whatsapp": "+34 600 111 222"}
        policy["communication"] = {**policy["communication"], "team_emails": list(team)}
        shop.policy, shop.name, shop.timezone = policy, name, timezone
        s.commit()
    return shop_id


def status_incident(app, shop_id: int, *, number: str = "#1001", opened: datetime | None = None,
                    kind: Kind = Kind.FULFILLMENT_LATE, responsibility: Responsibility = Responsibility.SHOP,
                    status: IncidentStatus = IncidentStatus.OPEN, locale: str | None = None, country: str = "ES",
                    offer: dict | None = None, order_locale: str | None = None) -> tuple[int, str]:
    """An incident of a paid order of 100.00 EUR (7.50 shipping); returns its id and its status-page token."""
    opened = opened or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    placed = opened - timedelta(days=5)
    with db(app).session() as s:
        order = Order(shop_id=shop_id, platform_order_id=number.strip("#") + "0", number=number,
                      customer_email="lucia@example.es", total=Decimal("100.00"), shipping=Decimal("7.50"),
                      currency="EUR", financial_status="paid", paid_at=placed,
                      facts={"order_id": number, "created_at": placed.isoformat().replace("+00:00", "Z"),
                             "country": country, "locale": order_locale})
        incident = Incident(shop_id=shop_id, kind=kind, responsibility=responsibility, status=status,
                            evidence=[], opened_at=opened, late_since=opened, locale=locale, offer=offer,
                            resolved_at=opened + timedelta(hours=1) if status == IncidentStatus.RESOLVED else None)
        order.incidents.append(incident)
        s.add(order)
        s.commit()
        return incident.id, status_token(app, incident.id)
