"""Issue one compensation through its platform, exactly once.

The row moves to `issuing` (committed) before the platform is called. A run that finds it already
`issuing` knows an earlier run may have reached the platform, so it asks the platform for the key first
and only then calls again. A transient failure (a timeout, a lost answer, 429, 5xx) leaves it `issuing`:
the outcome is not known until the store confirms it, so it keeps counting against the caps and is asked
about again, with back-off in the queue (never by sleeping in the worker). Only a refusal from the store
marks it `failed`, with the store's words.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

import connectors
from connectors.base import CompensationRequest
from connectors.http import PlatformError, Refused
from jobs import get_app
from plugin.compensation import ledger
from plugin.extensions import config, db, redis_conn
from plugin.orders.money import in_units
from plugin.shops.tokens import current_access
from plugin.storage.models import Compensation, Incident, Order
from plugin.storage.queue import COMPENSATE, exclusive, request_messages
from plugin.vocabulary import CompensationState

log = logging.getLogger(__name__)


def request_for(comp: Compensation, order: Order) -> CompensationRequest:
    facts = order.facts or {}
    currency = comp.currency or order.currency or "USD"
    amount = in_units(comp.amount, currency) if comp.amount is not None else None
    percent = Decimal(format(comp.percent.normalize(), "f")) if comp.percent is not None else None  # 10, not 10.000
    valid_days = comp.valid_days or 90
    # A coupon is valid from its first issue (after any approval), never from when it was planned.
    expires = comp.expires_at or (datetime.now(UTC).replace(microsecond=0) + timedelta(days=valid_days))
    return CompensationRequest(
        key=comp.idempotency_key, action=comp.action, order_id=order.platform_order_id,
        currency=currency, starts_at=expires - timedelta(days=valid_days),
        amount=amount, percent=percent, code=comp.code, valid_days=valid_days,
        customer_id=facts.get("customer_id"), customer_email=order.customer_email,
        note=f"Redress: {comp.incident.kind.replace('_', ' ')} on order {order.number or order.platform_order_id}",
    )


# Longer than a run can last (the worker stops it at its time limit), and shorter than the sweep waits
# before it resumes a compensation a dead worker left (ledger.RESUME_AFTER): the resumed run gets the lock.
LOCK_SECONDS = COMPENSATE.timeout + 30


def issue(compensation_id: int, retry=None) -> str:
    app = get_app()
    conn = redis_conn(app)
    # Two runs must never talk to the platform for one compensation at once (a WooCommerce refund has no
    # idempotency key of its own); a run that dies leaves the row `issuing` for the sweep to resume.
    with exclusive(conn, f"redress:compensate:{compensation_id}", LOCK_SECONDS) as mine:
        if not mine:
            return "busy"
        # The outcome as a plain word: RQ keeps job results, readable without this package.
        outcome = str(_issue(app, compensation_id, retry or config(app).job_retry()))
    if outcome in (CompensationState.ISSUED, CompensationState.FAILED):
        request_messages(conn)  # the customer hears what they were given (or the first message stops waiting)
    return outcome


def _issue(app, compensation_id: int, retry) -> str:
    with db(app).session() as s:
        comp = s.execute(
            select(Compensation).where(Compensation.id == compensation_id)
            .options(selectinload(Compensation.incident).selectinload(Incident.order).selectinload(Order.shop))
        ).scalar_one_or_none()
        if comp is None or comp.state not in (CompensationState.PLANNED, CompensationState.ISSUING):
            return comp.state if comp else "missing"
        resumed = comp.state == CompensationState.ISSUING
        if not ledger.start_issuing(s, comp, datetime.now(UTC)):
            return comp.state  # cancelled or taken by another run in the meantime
        s.commit()  # from here on the platform may act: any later run must ask it first
        try:
            ref = _call(app, s, comp, resumed, retry)
        except PlatformError as exc:
            return _not_issued(s, comp, exc)
        except Exception as exc:  # an answer we could not read: the store may have acted
            s.rollback()
            ledger.mark_unconfirmed(s, comp, f"outcome not known yet: {type(exc).__name__}: {exc}",
                                    datetime.now(UTC))
            s.commit()
            raise
        ledger.mark_issued(s, comp, ref, datetime.now(UTC))
        s.commit()
        log.info("compensation %s issued: %s %s", comp.id, comp.action, ref)
        return comp.state


def _call(app, s, comp: Compensation, resumed: bool, retry) -> str:
    order = comp.incident.order
    access = current_access(app, s, order.shop)
    connector = connectors.get(order.shop.platform)
    request = request_for(comp, order)
    ref = connector.find_issued(access, request, retry=retry) if resumed else None
    return ref if ref is not None else connector.issue(access, request, retry=retry)


def _not_issued(s, comp: Compensation, exc: PlatformError) -> str:
    now = datetime.now(UTC)
    locked_out = exc.status in (401, 403)  # the credentials, not the refund: it goes through once reconnected
    if isinstance(exc, Refused) or not (exc.retryable or locked_out):
        # The store said no: trying again would not change its answer.
        ledger.mark_failed(s, comp, str(exc), now)
        s.commit()
        log.error("compensation %s refused by the platform: %s", comp.id, exc)
        return comp.state
    ledger.mark_unconfirmed(s, comp, f"not issued yet: {exc}; tried again once the store accepts the connection"
                            if locked_out else f"outcome not known yet: {exc}; the store is asked again before "
                            "anything is tried again", now)
    s.commit()
    log.warning("compensation %s not confirmed (attempt %s): %s", comp.id, comp.attempts, exc)
    raise exc  # the queue retries it later with back-off; the next run asks the platform before acting
