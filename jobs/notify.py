"""Telling customers and the team.

`due` (the clock, every minute, and at once after anything that changes an incident) records the messages
incidents owe now, each committed before it is sent. `send` hands one recorded message to the mail server
(SMTP_URL) or, with none configured, writes it to the outbox; the queue retries it with back-off while the
server fails. A message is marked sent right after the server takes it: a crash in between is the one way
a message could go twice, and its fixed Message-ID lets the mail system recognise the copy.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from jobs import get_app
from plugin.extensions import config, db, redis_conn
from plugin.messages.digest import record_digest
from plugin.messages.links import status_url
from plugin.messages.record import consider
from plugin.storage import chat, mailer
from plugin.storage.models import Incident, Message, Order, Shop
from plugin.storage.queue import MESSAGES_PENDING_KEY, enqueue_notify, exclusive
from plugin.vocabulary import Channel, MessageState

log = logging.getLogger(__name__)
BATCH = 200
LOST_AFTER = timedelta(minutes=5)  # a queued message no run has tried by then lost its job


def due(now: datetime | None = None) -> dict:
    app = get_app()
    now = now or datetime.now(UTC)
    conn = redis_conn(app)
    conn.delete(MESSAGES_PENDING_KEY)  # what changes from here on asks for the next run
    with exclusive(conn, "redress:notify:due", 300) as mine:
        if not mine:
            return {"busy": True}
        recorded = _record_due(app, now)
        lost = _lost(app, now)
    enqueue_notify(conn, *recorded, *lost)
    return {"recorded": len(recorded), "resent": len(lost)}


def _record_due(app: Flask, now: datetime) -> list[int]:
    channel = Channel.EMAIL if config(app).smtp_url else Channel.OUTBOX
    recorded: list[int] = []
    with db(app).session() as s:
        ids = s.execute(select(Incident.id).where(Incident.next_message_at <= now)
                        .order_by(Incident.next_message_at).limit(BATCH)).scalars().all()
        for incident_id in ids:
            inc = s.execute(select(Incident).where(Incident.id == incident_id).options(
                selectinload(Incident.order).selectinload(Order.shop),
                selectinload(Incident.order).selectinload(Order.incidents), selectinload(Incident.compensations),
                selectinload(Incident.messages))).scalar_one()
            added = consider(s, inc, now, status_url(app, inc.id), channel, config(app).mail_from)
            try:
                s.commit()  # recorded before it is sent
            except IntegrityError:  # recorded meanwhile by a run that did not hold the lock: nothing to add
                s.rollback()
                continue
            recorded += [m.id for m in added]
    return recorded


def _lost(app: Flask, now: datetime) -> list[int]:
    with db(app).session() as s:
        return list(s.execute(select(Message.id).where(
            Message.state == MessageState.QUEUED, Message.attempts == 0,
            Message.channel.in_((Channel.EMAIL, Channel.OUTBOX, Channel.WEBHOOK)),
            Message.created_at < now - LOST_AFTER).limit(BATCH)).scalars())


def send(message_id: int) -> str:
    app = get_app()
    with exclusive(redis_conn(app), f"redress:send:{message_id}", 300) as mine:
        return _send(app, message_id) if mine else "busy"


def _send(app: Flask, message_id: int) -> str:
    cfg = config(app)
    with db(app).session() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.state != MessageState.QUEUED or not msg.to_address:
            return str(msg.state) if msg else "missing"
        msg.attempts += 1
        s.commit()
        if msg.channel == Channel.WEBHOOK:
            return _post(s, msg, cfg.allow_private_stores)
        email = _email(msg)
        try:
            if cfg.smtp_url:
                mailer.deliver(cfg.smtp_url, email)
                msg.channel = Channel.EMAIL
            else:
                mailer.write_outbox(email, cfg.outbox_dir, name=f"{msg.id:08d}-{msg.purpose}.eml")
                msg.channel = Channel.OUTBOX
        except mailer.MailError as exc:
            msg.error = str(exc)
            if mailer.permanent(exc):
                msg.state = MessageState.FAILED
                s.commit()
                log.error("message %s refused for good: %s", msg.id, exc)
                return str(msg.state)
            s.commit()
            raise  # the queue tries again later, with back-off
        msg.state, msg.sent_at, msg.error = MessageState.SENT, datetime.now(UTC), None
        s.commit()
        return str(msg.state)


def _post(s, msg: Message, allow_private: bool) -> str:
    try:
        chat.post(msg.to_address or "", msg.body_text, allow_private=allow_private)
    except chat.ChatError as exc:
        msg.error = str(exc)
        if exc.permanent:
            msg.state = MessageState.FAILED
            s.commit()
            return str(msg.state)
        s.commit()
        raise
    msg.state, msg.sent_at, msg.error = MessageState.SENT, datetime.now(UTC), None
    s.commit()
    return str(msg.state)


def _email(msg: Message):
    details = msg.details or {}
    return mailer.composed(
        msg.to_address or "", msg.subject or "", msg.body_text, msg.body_html,
        sender=details.get("from") or mailer.SENDER, reply_to=details.get("reply_to") or "",
        message_id=f"<redress-{msg.key.replace(':', '-')}@redress.local>")


def digest(now: datetime | None = None) -> dict:
    """Each shop's daily digest, once its day's has come (the clock asks every quarter of an hour)."""
    app = get_app()
    now = now or datetime.now(UTC)
    recorded: list[int] = []
    with db(app).session() as s:
        for shop in s.execute(select(Shop).where(Shop.active.is_(True)).order_by(Shop.id)).scalars():
            msg = record_digest(s, shop, now, f"{config(app).public_url}/settings/messages")
            try:
                s.commit()
            except IntegrityError:  # recorded meanwhile by another clock's run
                s.rollback()
                continue
            if msg is not None:
                recorded.append(msg.id)
    enqueue_notify(redis_conn(app), *recorded)
    return {"digests": len(recorded)}
