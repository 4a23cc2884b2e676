"""Pipeline benchmark: 10,000 stored deliveries drained into order snapshots and incidents by one worker.

Deliveries are Shopify's sample order with 2,500 distinct order ids, four versions each (placed,
updated, then paid or voided or cancelled), stored through the same inbox code the endpoint uses,
in shuffled order. One `redress worker --burst` process drains them; its start-up (measured on an
empty queue) is reported apart.

    .venv/bin/python bench/pipeline.py [--deliveries 10000] [--batch 500]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, Stack  # noqa: E402
from plugin.extensions import db  # noqa: E402
from plugin.intake.inbox import store  # noqa: E402
from plugin.storage.queue import request_drain  # noqa: E402

REDRESS = str(Path(sys.executable).parent / "redress")


def deliveries(n: int, seed: int = 7):
    rng = random.Random(seed)
    sample = json.loads((ROOT / "tests/fixtures/shopify/orders_create.json").read_text())
    base = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(n // 4):
        order_id = 10_000_000 + i
        fate = rng.choice(["paid", "paid", "voided", "cancelled"])
        for v, (financial, cancelled) in enumerate([("pending", False), ("pending", False),
                                                    ("authorized", False),
                                                    (fate if fate != "cancelled" else "voided", fate == "cancelled")]):
            p = copy.deepcopy(sample)
            p.update(id=order_id, name=f"#{order_id}", financial_status=financial,
                     updated_at=(base + timedelta(minutes=10 * v)).isoformat(),
                     cancelled_at=(base + timedelta(minutes=10 * v)).isoformat() if cancelled else None,
                     cancel_reason=rng.choice(["declined", "inventory", "customer"]) if cancelled else None)
            out.append(("orders/updated", json.dumps(p).encode()))
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deliveries", type=int, default=10_000)
    args = ap.parse_args()
    stack = Stack()
    try:
        engine = db(stack.app).engine
        t = time.perf_counter()
        for topic, body in deliveries(args.deliveries):
            store(engine, shop_id=stack.shop_id, platform="shopify", topic=topic, key=f"shopify:{uuid.uuid4()}",
                  body=body, now=datetime.now(UTC))
        stored_s = time.perf_counter() - t

        t = time.perf_counter()
        subprocess.run([REDRESS, "worker", "--burst"], env=stack.env, check=True)
        startup_s = time.perf_counter() - t

        from sqlalchemy import text

        request_drain(stack.redis)
        t = time.perf_counter()
        # Timed until the inbox is empty: the compensations the drain plans are other jobs, measured elsewhere.
        worker = subprocess.Popen([REDRESS, "worker", "--burst"], env=stack.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        pending_sql = text("SELECT count(*) FROM webhook_deliveries WHERE processed_at IS NULL")
        while True:
            with engine.connect() as c:
                if c.execute(pending_sql).scalar() == 0:
                    break
            time.sleep(0.05)
        total_s = time.perf_counter() - t
        worker.terminate()
        worker.wait(30)

        with engine.connect() as c:
            pending = c.execute(pending_sql).scalar()
            orders = c.execute(text("SELECT count(*) FROM orders")).scalar()
            incidents = c.execute(text("SELECT count(*) FROM incidents")).scalar()
            planned = c.execute(text("SELECT count(*) FROM compensations")).scalar()
    finally:
        stack.close()
    work_s = total_s - startup_s
    print(f"\n{args.deliveries} deliveries stored in {stored_s:.1f} s; one worker drained them into {orders} orders "
          f"and {incidents} incidents with {planned} compensations planned ({pending} left pending)\n")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| worker wall time, start-up included | {total_s:.2f} s |")
    print(f"| worker start-up (empty queue) | {startup_s:.2f} s |")
    print(f"| deliveries per second, start-up included | {args.deliveries / total_s:.0f} |")
    print(f"| deliveries per second, draining | {args.deliveries / work_s:.0f} |")


if __name__ == "__main__":
    main()
