"""The inbox: store a verified delivery exactly once, keyed by its delivery key.

This is the hot path of every webhook, so it is lean: shop secrets come from a short-lived
in-process cache, and the deliveries of concurrent requests are written together (group commit,
`plugin.intake.group`) by one autocommitted multi-row INSERT … ON CONFLICT DO NOTHING: one round trip
and one commit for the whole group, each request answering only once the commit holding its row returned.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from plugin.config import MIN_INBOX_RETENTION_DAYS
from plugin.intake.group import GroupCommit
from plugin.storage.models import WebhookDelivery

PURGE_BATCH = 5000


COLUMNS = ("shop_id", "platform", "topic", "delivery_key", "body", "received_at", "attempts")
GROUP_ROWS = 200  # at most 1,400 parameters in one statement: under every driver's limit
DeliveryKey = tuple[str, str]


class _Insert:
    """The inbox's multi-row INSERT … ON CONFLICT DO NOTHING, as driver SQL: one text per group size and the
    columns' own bind processors. On the hot path this costs half of a compiled Core statement's Python time,
    and PostgreSQL prepares the repeated text after a few runs (psycopg's prepare threshold)."""

    def __init__(self, engine: Engine):
        table, dialect = WebhookDelivery.__table__, engine.dialect
        name = WebhookDelivery.__tablename__
        self.mark = "%s" if dialect.paramstyle in ("format", "pyformat") else "?"
        self.head = f"INSERT INTO {name} ({', '.join(COLUMNS)}) VALUES "
        self.tail = " ON CONFLICT (platform, delivery_key) DO NOTHING RETURNING platform, delivery_key"
        self.row = "(" + ", ".join([self.mark] * len(COLUMNS)) + ")"
        self.columns = [(c, table.c[c].type.bind_processor(dialect)) for c in COLUMNS]
        self._texts: dict[int, str] = {}

    def sql(self, n: int) -> str:
        text = self._texts.get(n)
        if text is None:
            text = self._texts.setdefault(n, self.head + ", ".join([self.row] * n) + self.tail)
        return text

    def params(self, rows: Sequence[dict[str, Any]]) -> tuple[Any, ...]:
        return tuple(p(row[c]) if p else row[c] for row in rows for c, p in self.columns)


def _key(row: dict[str, Any]) -> DeliveryKey:
    return str(row["platform"]), row["delivery_key"]


class _FileTurn:
    """The web processes' inbox writers on one SQLite file take turns through a lock file beside it. SQLite's
    own busy wait sleeps and polls (up to 100 ms a try), which under load gave a p99 of hundreds of ms; a
    process waiting on `flock` is woken the moment the other one is done. No path: no turns to take
    (PostgreSQL queues its writers itself)."""

    def __init__(self, path: str | None):
        self.path, self.fd = path, -1

    @classmethod
    def of(cls, engine: Engine) -> _FileTurn:
        database = engine.url.database
        sqlite_file = engine.dialect.name == "sqlite" and database and database != ":memory:"
        return cls(f"{database}-intake.lock" if sqlite_file else None)

    def __enter__(self) -> None:
        if self.path is None:
            return
        if self.fd < 0:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


class _Writer:
    """Writes groups on a connection of its own, in autocommit: its committer lets one group write at a time,
    so one connection per process is all intake needs, and no pool checkout or reset is paid per group."""

    def __init__(self, engine: Engine):
        self.engine, self.insert, self.turn = engine, _Insert(engine), _FileTurn.of(engine)
        self.dbapi: Any = None
        self.dbapi_error = engine.dialect.loaded_dbapi.Error

    def __call__(self, rows: Sequence[dict[str, Any]]) -> set[DeliveryKey]:
        """One statement: the group's rows are stored together or not at all. Driver errors are raised as
        SQLAlchemy's, as from any other query (the endpoint answers 503 to them)."""
        sql, params = self.insert.sql(len(rows)), self.insert.params(rows)
        for attempt in (1, 2):
            reused = self.dbapi is not None
            conn = self._connection()
            try:
                with self.turn:
                    return {(str(platform), key) for platform, key in conn.execute(sql, params).fetchall()}
            except self.dbapi_error as exc:
                gone = self.engine.dialect.is_disconnect(exc, conn, None)  # before close(): it reads conn.closed
                self.close()
                if attempt == 2 or not (reused and gone):  # a connection the server closed since: once more
                    raise DBAPIError.instance(sql, None, exc, self.dbapi_error, hide_parameters=True,
                                              connection_invalidated=gone, dialect=self.engine.dialect) from exc
        raise AssertionError("unreachable")

    def _connection(self) -> Any:
        if self.dbapi is None:
            pooled = self.engine.raw_connection()  # made by the engine: its connect-time settings apply
            dbapi: Any = pooled.driver_connection
            pooled.detach()  # this connection is the writer's until it fails or the engine is disposed
            if self.engine.dialect.name == "postgresql":
                dbapi.autocommit = True
            else:
                dbapi.isolation_level = None
            self.dbapi = dbapi
        return self.dbapi

    def close(self) -> None:
        dbapi, self.dbapi = self.dbapi, None
        self.turn.close()
        if dbapi is not None:
            with contextlib.suppress(Exception):
                dbapi.close()


_COMMITTERS: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()


def committer(engine: Engine) -> GroupCommit:
    """The engine's one group committer: every request thread of a process goes through it."""
    found = _COMMITTERS.get(engine)
    if found is None:
        writer = _Writer(engine)
        found = _COMMITTERS.setdefault(engine, GroupCommit(write=writer, key=_key, max_rows=GROUP_ROWS))
        if found.write is writer:
            event.listen(engine, "engine_disposed", lambda _engine: writer.close())
    return found


def store(engine: Engine, *, shop_id: int | None, platform: str, topic: str, key: str, body: bytes,
          now: datetime) -> bool:
    """Insert the delivery, durably, before returning; False when the same key was stored before (a duplicate).
    Raises the database's error when the group holding it could not be written: nothing of it is stored."""
    return committer(engine).submit({"shop_id": shop_id, "platform": platform, "topic": topic,
                                     "delivery_key": key, "body": body, "received_at": now, "attempts": 0})


def purge_processed(engine: Engine, now: datetime, retention: timedelta, batch: int | None = None) -> int:
    """Delete one batch of deliveries processed before `now - retention`, in its own short transaction.

    Rows still pending (not processed, with or without an error) are never touched. Returns how many went.
    """
    if retention < timedelta(days=MIN_INBOX_RETENTION_DAYS):
        raise ValueError(f"an inbox retention under {MIN_INBOX_RETENTION_DAYS} days could process a redelivery twice")
    old = (select(WebhookDelivery.id)
           .where(WebhookDelivery.processed_at.is_not(None), WebhookDelivery.processed_at < now - retention)
           .order_by(WebhookDelivery.processed_at).limit(batch or PURGE_BATCH))
    with engine.begin() as conn:
        return conn.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(old.scalar_subquery()))).rowcount


def purge(engine: Engine, now: datetime, retention: timedelta, batch: int | None = None,
          max_batches: int | None = None) -> tuple[int, bool]:
    """Purge batch after batch until none is left or `max_batches` ran; returns (deleted, more may be left)."""
    batch = batch or PURGE_BATCH
    deleted, runs = 0, 0
    while max_batches is None or runs < max_batches:
        n = purge_processed(engine, now, retention, batch)
        deleted, runs = deleted + n, runs + 1
        if n < batch:
            return deleted, False
    return deleted, True
