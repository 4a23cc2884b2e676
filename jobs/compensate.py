"""Issue one compensation through its platform, exactly once.

The row moves to `issuing` (committed) before the platform is called. A run that finds it already
`issuing` knows an earlier run may have reached the platform, so it asks the platform for the key first
and only then calls again. Transient failures leave it `issuing` and are retried with back-off; a
business refusal marks it `failed` with the platform's words.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

import connectors
from connectors.base import CompensationRequest
from connectors.http import PlatformError, Refused
from jobs import get_app
from plugin import config, db, redis_conn
from plugin.ledger import settle_incident
from plugin.models import Compensation, Incident, Order
from plugin.money import fmt
from plugin.tokens import current_access

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def request_for(comp: Compensation, order: Order) -> CompensationRequest:
    facts = order.facts or {}
    currency = comp.currency or order.currency or "USD"
    amount = Decimal(fmt(comp.amount, currency)) if comp.amount is not None else None
    percent = Decimal(format(comp.percent.normalize(), "f")) if comp.percent is not None else None  # 10, not 10.000
    return CompensationRequest(
        key=comp.idempotency_key, action=comp.action, order_id=order.platform_order_id,
        currency=currency, starts_at=comp.created_at.replace(microsecond=0),
        amount=amount, percent=percent, code=comp.code, valid_days=comp.valid_days,
        customer_id=facts.get("customer_id"), customer_email=order.customer_email,
        note=f"Redress: {comp.incident.kind.replace('_', ' ')} on order {order.number or order.platform_order_id}",
    )


LOCK_SECONDS = 600


def issue(compensation_id: int, retry=None) -> str:
    app = get_app()
    conn = redis_conn(app)
    lock = f"redress:compensate:{compensation_id}"
    # Two runs must never talk to the platform for one compensation at once (a WooCommerce refund has no
    # idempotency key of its own); a run that dies leaves the row `issuing` for the sweep to resume.
    if not conn.set(lock, "1", nx=True, ex=LOCK_SECONDS):
        return "busy"
    try:
        return _issue(app, compensation_id, retry or config(app).platform_retry())
    finally:
        conn.delete(lock)


def _issue(app, compensation_id: int, retry) -> str:
    database = db(app)
    with database.session() as s:
        comp = s.execute(
            select(Compensation).where(Compensation.id == compensation_id)
            .options(selectinload(Compensation.incident).selectinload(Incident.order).selectinload(Order.shop))
            .with_for_update(of=Compensation)
        ).scalar_one_or_none()
        if comp is None or comp.state not in ("planned", "issuing"):
            return comp.state if comp else "missing"
        resumed = comp.state == "issuing"
        comp.state, comp.attempts = "issuing", comp.attempts + 1
        s.commit()  # from here on the platform may act: any later run must ask it first

        order = comp.incident.order
        shop = order.shop
        access = current_access(app, s, shop)
        connector = connectors.get(shop.platform)
        request = request_for(comp, order)
        try:
            ref = connector.find_issued(access, request, retry=retry) if resumed else None
            if ref is None:
                ref = connector.issue(access, request, retry=retry)
        except Refused as exc:
            comp.state, comp.error = "failed", str(exc)
            settle_incident(comp.incident)
            s.commit()
            log.warning("compensation %s refused by the platform: %s", comp.id, exc)
            return comp.state
        except PlatformError as exc:
            comp.error = str(exc)
            if comp.attempts >= MAX_ATTEMPTS:
                comp.state = "failed"
                settle_incident(comp.incident)
            s.commit()
            if comp.state == "failed":
                return comp.state
            raise  # RQ retries with back-off; the next run asks the platform before acting
        comp.state, comp.platform_ref, comp.error = "issued", ref, None
        comp.updated_at = datetime.now(UTC)
        settle_incident(comp.incident)
        s.commit()
        log.info("compensation %s issued: %s %s", comp.id, comp.action, ref)
        return comp.state
