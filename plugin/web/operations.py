"""The desk's actions as both the pages and the API carry them out: find the shop's own incident, compensation
or crisis (another shop's id is "not found"), act, commit, then hand what was planned and recorded to the
workers. A refusal is an OperationError with the sentence to show."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.compensation.decisions import DecisionError, compensate_all
from plugin.compensation.ledger import LedgerError, approve, cancel
from plugin.crises.actions import CrisisError, post_update
from plugin.desk import actions
from plugin.desk.actions import ActionError, Done
from plugin.extensions import config, redis_conn
from plugin.messages.links import status_url
from plugin.storage.models import Compensation, Crisis, Incident, Order, Shop
from plugin.storage.queue import enqueue_compensation, enqueue_notify, request_messages
from plugin.vocabulary import Channel, CompensationState, CrisisStatus

T = TypeVar("T", Incident, Compensation, Crisis)


class OperationError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def owned(session: Session, model: type[T], shop: Shop, ident: int) -> T:
    """The shop's own row; another shop's id answers exactly like one that does not exist."""
    row = session.get(model, ident)
    shop_id = row.incident.shop_id if isinstance(row, Compensation) else getattr(row, "shop_id", None)
    if row is None or shop_id != shop.id:
        raise OperationError(f"no {model.__name__.lower()} {ident}", 404)
    return row


def _channel() -> Channel:
    return Channel.EMAIL if config(current_app).smtp_url else Channel.OUTBOX


def _hand_over(done: Done) -> None:
    conn = redis_conn(current_app)
    enqueue_compensation(conn, *[c.id for c in done.planned if c.state == CompensationState.PLANNED])
    enqueue_notify(conn, *[m.id for m in done.messages])
    request_messages(conn)  # the customer hears of what changed, the team of what waits for approval


def on_incident(session: Session, shop: Shop, incident_id: int, action: str, data: dict[str, Any],
                who: str) -> Incident:
    """`action`: verdict, resolve, dismiss, notes or messages (the API's words)."""
    incident = owned(session, Incident, shop, incident_id)
    # The order's row lock, as the drain takes it: a webhook processed meanwhile can neither undo the team's
    # change (its verdict, kept in the evidence) nor be undone by it.
    session.execute(select(Order.id).where(Order.id == incident.order_id).with_for_update())
    session.refresh(incident)
    now = datetime.now(UTC)
    steps: dict[str, Callable[[], Any]] = {
        "verdict": lambda: actions.override_verdict(session, incident, data.get("responsibility"),
                                                    data.get("reason"), who, now),
        "resolve": lambda: actions.resolve(session, incident, data.get("note"), who, now),
        "dismiss": lambda: actions.dismiss_incident(session, incident, data.get("note"), who, now),
        "notes": lambda: actions.add_note(session, incident, data.get("text"), who, now),
        "messages": lambda: actions.write_to_customer(session, incident, data.get("text"), now,
                                                      lambda i: status_url(current_app, i), _channel(),
                                                      config(current_app).mail_from, data.get("nonce")),
    }
    if action not in steps:
        raise OperationError(f"no action {action}", 404)
    try:
        done = steps[action]()
    except ActionError as exc:
        session.rollback()
        raise OperationError(str(exc), 409 if exc.conflict else 400) from None
    session.commit()
    _hand_over(done)
    return incident


def on_compensation(session: Session, shop: Shop, compensation_id: int, decision: str) -> Compensation:
    """`decision`: approve or cancel."""
    comp = owned(session, Compensation, shop, compensation_id)
    step = {"approve": approve, "cancel": cancel}.get(decision)
    if step is None:
        raise OperationError(f"no decision {decision}", 404)
    try:
        step(session, comp)
    except LedgerError as exc:
        session.rollback()
        raise OperationError(str(exc), 409) from None
    session.commit()
    _hand_over(Done(planned=[comp]))
    return comp


def crisis_update(session: Session, shop: Shop, crisis_id: int, text: Any, status: Any, send: bool,
                  texts: Any = None, nonce: str | None = None) -> int:
    """Record an update; with `send`, one message to every affected customer. Returns how many."""
    crisis = owned(session, Crisis, shop, crisis_id)
    resolved = crisis.status == CrisisStatus.RESOLVED
    try:
        posted = post_update(session, crisis, text=text if isinstance(text, str) else "",
                             status=status or None, send_to_customers=send, now=datetime.now(UTC),
                             status_url=lambda i: status_url(current_app, i), channel=_channel(),
                             mail_from=config(current_app).mail_from,
                             texts=texts if isinstance(texts, dict) else None, nonce=nonce)
    except CrisisError as exc:
        session.rollback()
        raise OperationError(str(exc), 409 if resolved else 400) from None
    session.commit()
    _hand_over(Done(messages=posted.messages))
    return len(posted.messages)


def crisis_compensate(session: Session, shop: Shop, crisis_id: int, raw: dict[str, Any]) -> list[Compensation]:
    crisis = owned(session, Crisis, shop, crisis_id)
    try:
        planned = compensate_all(session, crisis.incidents, raw, f"crisis{crisis.id}", datetime.now(UTC))
    except DecisionError as exc:
        session.rollback()
        raise OperationError(str(exc)) from None
    session.commit()
    _hand_over(Done(planned=planned))
    return planned
