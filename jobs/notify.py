"""Telling customers and the team.

`due` (the clock, every minute, and at once after anything that changes an incident) records the messages
incidents owe now, each committed before it is sent. `send` hands one recorded message to the mail server
(SMTP_URL) or, with none configured, writes it to the outbox; the queue retries it with back-off while the
server fails. A message is marked sent right after the server takes it: a crash in between is the one way
a message could go twice, and its fixed Message-ID lets the mail system recognise the copy.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import selectinload

from jobs import get_app
from plugin.analytics.monthly import record_monthly
from plugin.extensions import config, db, redis_conn
from plugin.messages.digest import record_digest
from plugin.messages.links import status_url
from plugin.messages.record import consider
from plugin.storage import chat, mailer
from plugin.storage.models import Incident, Message, Order, Shop
from plugin.storage.queue import MESSAGES_PENDING_KEY, SEND, enqueue_notify, exclusive, request_messages
from plugin.vocabulary import Channel, MessageState

log = logging.getLogger(__name__)
BATCH = 200
RETRY_BROKEN = timedelta(minutes=15)  # an incident whose message failed to be written is looked at again then
LOST_AFTER = timedelta(minutes=5)  # a queued message no run has tried by then lost its job
# Tried, and not again by then: its worker died (the longest back-off is an hour, a job's timeout two minutes).
STALLED_AFTER = timedelta(minutes=70)
# As many attempts as the queue makes; then the message is marked failed, and the team's digest says so.
GIVE_UP_AFTER = 1 + len(SEND.backoff)


def due(now: datetime | None = None, batch_size: int = BATCH, max_seconds: float = 120.0) -> dict:
    app = get_app()
    now = now or datetime.now(UTC)
    conn = redis_conn(app)
    conn.delete(MESSAGES_PENDING_KEY)  # what changes from here on asks for the next run
    with exclusive(conn, "redress:notify:due", 300) as mine:
        if not mine:
            return {"busy": True}
        recorded, more = _record_due(app, now, conn, batch_size, time.monotonic() + max_seconds)
        lost = _lost(app, now)
    enqueue_notify(conn, *lost)
    if more:  # a backlog (many incidents at once) goes on in the next run, not at the clock's next minute
        request_messages(conn)
    return {"recorded": recorded, "resent": len(lost), "more": more}


def _record_due(app: Flask, now: datetime, conn, size: int, deadline: float) -> tuple[int, bool]:
    """Every incident due by `now`, a batch at a time, each batch's messages queued for sending as soon as
    they are committed. Returns how many were recorded and whether due incidents were left for lack of time."""
    recorded, after = 0, None
    while True:
        batch, after = _due_batch(app, now, after, size)
        ids, interrupted = _record_batch(app, now, batch)
        enqueue_notify(conn, *ids)
        recorded += len(ids)
        if interrupted:  # the database failed: what is left stays due, for the clock's next minute
            return recorded, False
        if len(batch) < size:
            return recorded, False
        if time.monotonic() > deadline:
            return recorded, True


def _due_batch(app: Flask, now: datetime, after: tuple[datetime, int] | None, size: int):
    """The next due incidents in (due time, id) order, after the last one seen: one that could not be
    recorded (another run's meanwhile) stays due without being read again in this run."""
    q = select(Incident.next_message_at, Incident.id).where(Incident.next_message_at <= now)
    if after:
        q = q.where(or_(Incident.next_message_at > after[0],
                        and_(Incident.next_message_at == after[0], Incident.id > after[1])))
    with db(app).session() as s:
        rows = s.execute(q.order_by(Incident.next_message_at, Incident.id).limit(size)).all()
    return [r.id for r in rows], ((rows[-1].next_message_at, rows[-1].id) if rows else after)


def _record_batch(app: Flask, now: datetime, incident_ids: list[int]) -> tuple[list[int], bool]:
    """The messages recorded, and whether the database failed before the batch was done."""
    channel = Channel.EMAIL if config(app).smtp_url else Channel.OUTBOX
    recorded: list[int] = []
    with db(app).session() as s:
        # The batch in one read (its orders, shops, compensations and messages), then one commit per incident.
        loaded = s.execute(select(Incident).where(Incident.id.in_(incident_ids)).options(
            selectinload(Incident.order).selectinload(Order.shop),
            selectinload(Incident.order).selectinload(Order.incidents), selectinload(Incident.compensations),
            selectinload(Incident.messages))).scalars().all()
        by_id = {inc.id: inc for inc in loaded}
        for incident_id in incident_ids:
            inc = by_id.get(incident_id)
            if inc is None:  # erased meanwhile
                continue
            try:
                added = consider(s, inc, now, status_url(app, inc.id), channel, config(app).mail_from)
                s.commit()  # recorded before it is sent
            except IntegrityError:  # recorded meanwhile by a run that did not hold the lock: nothing to add
                s.rollback()
                continue
            except Exception as exc:
                with contextlib.suppress(DBAPIError):
                    s.rollback()
                if _database_failed(exc):  # an outage is not this incident's fault: it stays due
                    log.warning("messages not recorded, the database failed: %s", exc)
                    return recorded, True
                # One incident that cannot be told must not keep every other one waiting.
                log.exception("incident %s: its message could not be recorded; tried again later", incident_id)
                _look_again_later(s, incident_id, now)
                continue
            recorded += [m.id for m in added]
    return recorded, False


def _database_failed(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _look_again_later(s, incident_id: int, now: datetime) -> None:
    s.execute(update(Incident).where(Incident.id == incident_id).values(next_message_at=now + RETRY_BROKEN))
    s.commit()


def _lost(app: Flask, now: datetime) -> list[int]:
    """Queued messages whose job is gone: never tried (the queue was lost), or not tried again for longer
    than the longest back-off (a worker died in the middle). Their attempts stay counted, so they give up."""
    with db(app).session() as s:
        return list(s.execute(select(Message.id).where(
            Message.state == MessageState.QUEUED,
            Message.channel.in_((Channel.EMAIL, Channel.OUTBOX, Channel.WEBHOOK)),
            or_(and_(Message.attempts == 0, Message.created_at < now - LOST_AFTER),
                Message.tried_at < now - STALLED_AFTER)).order_by(Message.created_at).limit(BATCH)).scalars())


def send(message_id: int) -> str:
    app = get_app()
    with exclusive(redis_conn(app), f"redress:send:{message_id}", 300) as mine:
        if not mine:
            return "busy"
        with _transport(app) as transport:
            return _send(app, message_id, transport)


def send_many(message_ids: list[int]) -> dict:
    """Messages recorded together (many incidents due at once) go over one connection to the mail server.
    One the server could not take now is handed to a `send` job of its own, which tries it again with
    back-off; the others go on."""
    app = get_app()
    conn = redis_conn(app)
    outcome: dict[str, int] = {}
    retry: list[int] = []
    with db(app).session() as s:  # every try counted in one commit, not one per message
        s.execute(update(Message).where(Message.id.in_(message_ids), Message.state == MessageState.QUEUED)
                  .values(attempts=Message.attempts + 1, tried_at=datetime.now(UTC)))
        s.commit()
    with _transport(app) as transport:
        for message_id in message_ids:
            with exclusive(conn, f"redress:send:{message_id}", 300) as mine:
                try:
                    state = _send(app, message_id, transport, counted=True) if mine else "busy"
                except (mailer.MailError, chat.ChatError):
                    state = "retry"
                    retry.append(message_id)
            outcome[state] = outcome.get(state, 0) + 1
    enqueue_notify(conn, *retry, one_by_one=True)
    return outcome


@contextlib.contextmanager
def _transport(app: Flask) -> Iterator[mailer.Connection | None]:
    """The mail server's connection, or None when messages are written to the outbox."""
    url = config(app).smtp_url
    if not url:
        yield None
        return
    with mailer.Connection(url) as connection:
        yield connection


def _send(app: Flask, message_id: int, transport: mailer.Connection | None, counted: bool = False) -> str:
    cfg = config(app)
    with db(app).session() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.state != MessageState.QUEUED or not msg.to_address:
            return str(msg.state) if msg else "missing"
        if not counted:
            msg.attempts, msg.tried_at = msg.attempts + 1, datetime.now(UTC)
            s.commit()
        if msg.channel == Channel.WEBHOOK:
            return _post(s, msg, cfg.allow_private_stores)
        email = _email(msg)
        try:
            if transport is not None:
                transport.deliver(email)
                msg.channel = Channel.EMAIL
            else:
                mailer.write_outbox(email, cfg.outbox_dir, name=f"{msg.id:08d}-{msg.purpose}.eml")
                msg.channel = Channel.OUTBOX
        except mailer.MailError as exc:
            return _not_sent(s, msg, exc, mailer.permanent(exc))
        msg.state, msg.sent_at, msg.error = MessageState.SENT, datetime.now(UTC), None
        s.commit()
        return str(msg.state)


def _post(s, msg: Message, allow_private: bool) -> str:
    try:
        chat.post(msg.to_address or "", msg.body_text, allow_private=allow_private)
    except chat.ChatError as exc:
        return _not_sent(s, msg, exc, exc.permanent)
    msg.state, msg.sent_at, msg.error = MessageState.SENT, datetime.now(UTC), None
    s.commit()
    return str(msg.state)


def _not_sent(s, msg: Message, exc: Exception, permanent: bool) -> str:
    """Refused for good, or failing still after every attempt: marked failed. Otherwise the error is
    raised for the queue to try again later, with back-off."""
    msg.error = str(exc)
    if not permanent and msg.attempts < GIVE_UP_AFTER:
        s.commit()
        raise exc
    msg.state = MessageState.FAILED
    s.commit()
    log.error("message %s not sent after %s attempt(s): %s", msg.id, msg.attempts, exc)
    return str(msg.state)


def _email(msg: Message):
    details = msg.details or {}
    return mailer.composed(
        msg.to_address or "", msg.subject or "", msg.body_text, msg.body_html,
        sender=details.get("from") or mailer.SENDER, reply_to=details.get("reply_to") or "",
        message_id=f"<redress-{msg.key.replace(':', '-')}@redress.local>")


def digest(now: datetime | None = None) -> dict:
    """Each shop's daily digest, once its day's has come, and its monthly "what to fix" report, once its month's
    has (the clock asks every quarter of an hour)."""
    app = get_app()
    now = now or datetime.now(UTC)
    recorded: dict[str, list[int]] = {"digests": [], "monthly": []}
    desk = f"{config(app).public_url}/settings/messages"
    with db(app).session() as s:
        for shop in s.execute(select(Shop).where(Shop.active.is_(True)).order_by(Shop.id)).scalars():
            _keep(s, recorded["digests"], record_digest(s, shop, now, desk))
            _keep(s, recorded["monthly"], record_monthly(s, shop, now))
    enqueue_notify(redis_conn(app), *recorded["digests"], *recorded["monthly"])
    return {"digests": len(recorded["digests"]), "monthly": len(recorded["monthly"])}


def _keep(s, ids: list[int], msg: Message | None) -> None:
    """Commit what was recorded; one recorded meanwhile by another clock's run is that run's to send."""
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
        return
    if msg is not None:
        ids.append(msg.id)
