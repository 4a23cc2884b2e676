"""Drain benchmark: one backlog drained by 1, 2 and 4 worker processes sharing one PostgreSQL and Redis.

A large shop has 8,000 deliveries waiting (2,000 orders, four versions each, as in `bench/pipeline.py`) and
four small shops 100 each, stored after the large shop's: a bulk import on one store while the others keep
selling. For each number of workers the run starts from a fresh database: the `redress worker --queues
ingest` processes are started and ready, one drain is requested (as one webhook would), and the run is timed
until the inbox is empty. It also records when the small shops' last delivery was processed: the drain shares
each batch among the shops that have deliveries waiting, so they should not wait for the large shop's
backlog. Then it checks that nothing was done twice: every delivery processed exactly once (one attempt, no
error), one snapshot per order, and the same incidents open at the end in every run.

    .venv/bin/python bench/drain.py [--workers 1,2,4] [--large 8000] [--small 100]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sqlalchemy import text  # noqa: E402

from bench.common import Stack  # noqa: E402
from bench.pipeline import deliveries  # noqa: E402
from plugin.config import Config  # noqa: E402
from plugin.extensions import db, vault  # noqa: E402
from plugin.intake.inbox import store  # noqa: E402
from plugin.shops.connect import add_shopify  # noqa: E402
from plugin.storage.queue import request_drain  # noqa: E402

REDRESS = str(Path(sys.executable).parent / "redress")
SMALL_SHOPS = 4


def small_shops(stack: Stack) -> list[int]:
    ids = []
    with db(stack.app).session() as s:
        for i in range(SMALL_SHOPS):
            shop, _, _ = add_shopify(s, vault(stack.app), Config(allow_private_stores=True),
                                     domain=f"small-{i}.myshopify.com", token="shpat_bench", webhook_secret="x",
                                     admin_url="http://127.0.0.1:9/admin/api/2026-04/graphql.json")
            s.flush()
            ids.append(shop.id)
        s.commit()
    return ids


def fill(stack: Stack, large: int, small: int) -> list[int]:
    engine, now = db(stack.app).engine, datetime.now(UTC)
    for topic, body in deliveries(large):
        store(engine, shop_id=stack.shop_id, platform="shopify", topic=topic, key=f"shopify:{uuid.uuid4()}",
              body=body, now=now)
    shops = small_shops(stack)
    for n, shop_id in enumerate(shops):
        for topic, body in deliveries(small, seed=n):
            store(engine, shop_id=shop_id, platform="shopify", topic=topic, key=f"shopify:{uuid.uuid4()}",
                  body=body, now=now)
    return shops


def wait_ready(stack: Stack, n: int) -> None:
    """Until `n` workers are registered with Redis and idle."""
    from rq import Worker

    deadline = time.monotonic() + 60
    while len(Worker.all(connection=stack.redis)) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start")
        time.sleep(0.1)


def run(n_workers: int, large: int, small: int) -> dict:
    stack = Stack()
    try:
        shops = fill(stack, large, small)
        engine = db(stack.app).engine
        workers = [subprocess.Popen([REDRESS, "worker", "--queues", "ingest"], env=stack.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(n_workers)]
        try:
            wait_ready(stack, n_workers)
            started = time.perf_counter()
            request_drain(stack.redis)
            small_done = None
            pending = text("SELECT count(*) FILTER (WHERE shop_id = ANY(:small)), count(*) FROM webhook_deliveries "
                           "WHERE processed_at IS NULL")
            while True:
                with engine.connect() as c:
                    left_small, left = c.execute(pending, {"small": shops}).one()
                if left_small == 0 and small_done is None:
                    small_done = time.perf_counter() - started
                if left == 0:
                    break
                time.sleep(0.02)
            total = time.perf_counter() - started
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                try:
                    w.wait(10)
                except subprocess.TimeoutExpired:  # in a blocking dequeue: the inbox is empty, nothing to lose
                    w.kill()
                    w.wait()
        with engine.connect() as c:
            twice = c.execute(text("SELECT count(*) FROM webhook_deliveries WHERE attempts <> 1 "
                                   "OR error IS NOT NULL")).scalar()
            why = c.execute(text("SELECT attempts, left(error, 120), count(*) FROM webhook_deliveries WHERE "
                                 "attempts <> 1 OR error IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5")).all()
            if why:
                print(f"{n_workers} workers, deliveries not processed exactly once:", [tuple(r) for r in why])
            orders = c.execute(text("SELECT count(*), count(DISTINCT (shop_id, platform_order_id)) FROM orders")).one()
            incidents = c.execute(text("SELECT count(*) FROM incidents")).scalar()
            still_open = tuple(c.execute(text("SELECT kind, count(*) FROM incidents WHERE status = 'open' "
                                              "GROUP BY kind ORDER BY kind")).all())
            planned = c.execute(text("SELECT count(*) FROM compensations")).scalar()
    finally:
        stack.close()
    return {"workers": n_workers, "seconds": total, "small_seconds": small_done, "twice": twice,
            "orders": tuple(orders), "incidents": incidents, "open": still_open,
            "planned": planned}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--large", type=int, default=8000)
    ap.add_argument("--small", type=int, default=100)
    args = ap.parse_args()
    total = args.large + SMALL_SHOPS * args.small
    results = [run(int(n), args.large, args.small) for n in args.workers.split(",")]
    print(f"\n{total} deliveries waiting: {args.large} of one shop, then {args.small} of each of {SMALL_SHOPS} "
          "small shops; PostgreSQL and Redis on loopback, this machine's 2 cores shared by all\n")
    print("| workers | drained in | deliveries/s | small shops done after | processed more than once "
          "| orders (distinct) | incidents open at the end | incidents opened | compensations planned |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['workers']} | {r['seconds']:.1f} s | {total / r['seconds']:.0f} | {r['small_seconds']:.1f} s "
              f"| {r['twice']} | {r['orders'][0]} ({r['orders'][1]}) | {sum(n for _, n in r['open'])} "
              f"| {r['incidents']} | {r['planned']} |")
    # What is open at the end follows from each order's last version, whoever processed it. How many were
    # opened on the way varies: a batch that sees an order voided and then paid in one go opens nothing.
    same = len({(r["orders"], r["open"]) for r in results}) == 1
    if any(r["twice"] for r in results) or not same:
        print(json.dumps(results, indent=1))
        sys.exit("a delivery was processed twice, or the runs disagree")


if __name__ == "__main__":
    main()
