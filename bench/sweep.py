"""Sweep and reconciliation benchmarks.

1. One sweep over 1,000,000 orders in PostgreSQL of which 1,000 are due, beside the same 1,000 due
   among 10,000 orders: the sweep reads only due rows (index on next_check_at), so both should take
   about the same time. Each due order is a paid, never-shipped order whose handling time has run out:
   the sweep assesses it and opens a fulfillment_late incident.
2. One reconciliation pass over 10,000 changed orders served by the local fake of each platform
   (WooCommerce REST pages of 100; Shopify Admin GraphQL pages of 100, validated and executed against
   the real schema), stored into the inbox: orders per second.

    .venv/bin/python bench/sweep.py [--orders 1000000] [--due 1000] [--changed 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pytest_httpserver import HTTPServer  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.common import Stack  # noqa: E402
from connectors.http import Retry  # noqa: E402
from plugin.extensions import config, db, vault  # noqa: E402
from plugin.intake.reconcile import reconcile_shop  # noqa: E402
from plugin.intake.sweep import sweep_due_orders  # noqa: E402
from plugin.orders.facts import OrderFacts  # noqa: E402
from plugin.shops.connect import add_shopify, add_woocommerce  # noqa: E402
from plugin.shops.tokens import shop_access  # noqa: E402
from plugin.storage.models import Shop  # noqa: E402

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def fill(engine, shop_id: int, total: int, due: int) -> None:
    paid = NOW - timedelta(days=10)
    facts = OrderFacts(order_id="x", number="#x", financial_status="paid", paid_at=paid, created_at=paid,
                       updated_at=paid, currency="USD").to_json()
    with engine.begin() as c:
        c.execute(text("TRUNCATE orders, incidents CASCADE"))
        # Not due: open orders with a deadline next week, and closed ones with none.
        c.execute(text("""
            INSERT INTO orders (shop_id, platform_order_id, number, currency, financial_status, fulfillment_status,
                                deleted, facts, next_check_at, updated_at)
            SELECT :shop, 'o' || g, '#' || g, 'USD', 'paid', 'fulfilled', false, CAST(:facts AS JSON),
                   CASE WHEN g % 2 = 0 THEN CAST(:later AS TIMESTAMPTZ) END, now()
            FROM generate_series(1, :n) AS g"""),
            {"shop": shop_id, "facts": json.dumps(facts), "later": NOW + timedelta(days=7), "n": total - due})
        c.execute(text("""
            INSERT INTO orders (shop_id, platform_order_id, number, currency, financial_status, fulfillment_status,
                                deleted, facts, next_check_at, updated_at)
            SELECT :shop, 'd' || g, '#d' || g, 'USD', 'paid', 'unfulfilled', false, CAST(:facts AS JSON),
                   CAST(:due AS TIMESTAMPTZ) - g * interval '1 second', now()
            FROM generate_series(1, :n) AS g"""),
            {"shop": shop_id, "facts": json.dumps(facts), "due": NOW - timedelta(minutes=1), "n": due})
        c.execute(text("ANALYZE orders"))


def time_sweep(stack: Stack) -> tuple[float, int, int]:
    with db(stack.app).session() as s:
        t = time.perf_counter()
        n, planned = sweep_due_orders(s, NOW)
        s.commit()
        return time.perf_counter() - t, n, len(planned)


def reconcile_pass(stack: Stack, platform: str, changed: int) -> float:
    server = HTTPServer()
    server.start()
    try:
        with db(stack.app).session() as s:
            if platform == "woocommerce":
                from simulated.woocommerce import FakeWooCommerce
                from tests.support.platforms import wc_order

                fake = FakeWooCommerce(server)
                for i in range(changed):
                    stamp = (NOW - timedelta(hours=3) + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S")
                    fake.add(wc_order(id=i + 1, number=str(i + 1), date_modified_gmt=stamp))
                shop, _, _ = add_woocommerce(s, vault(stack.app), config(stack.app), url=fake.url, key="ck_test",
                                             secret="cs_test", webhook_secret="x")
            else:
                from simulated.shopify import FakeShopify, admin_schema, order_node

                admin_schema()  # parse the 3.4 MB schema before the clock starts
                fake = FakeShopify(server)
                for i in range(changed):
                    t = NOW - timedelta(hours=3) + timedelta(seconds=i)
                    fake.add(order_node(900000 + i, created_at=t, updated_at=t))
                shop, _, _ = add_shopify(s, vault(stack.app), config(stack.app),
                                         domain=f"bench-{changed}.myshopify.com", token="shpat_test",
                                         admin_url=fake.endpoint)
            s.commit()
            shop = s.get(Shop, shop.id)
            t = time.perf_counter()
            access = shop_access(shop, vault(stack.app), "2026-04")
            result = reconcile_shop(s, db(stack.app).engine, shop, access, NOW, retry=Retry(attempts=3))
            elapsed = time.perf_counter() - t
            assert result.finished and result.stored == changed, result
            return elapsed
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--due", type=int, default=1_000)
    ap.add_argument("--changed", type=int, default=10_000)
    args = ap.parse_args()
    stack = Stack()
    engine = db(stack.app).engine
    rows = []
    try:
        for total in (10_000, args.orders):
            t = time.perf_counter()
            fill(engine, stack.shop_id, total, args.due)
            filled = time.perf_counter() - t
            seconds, n, planned = time_sweep(stack)
            with engine.connect() as c:
                opened = c.execute(text("SELECT count(*) FROM incidents")).scalar()
            rows.append((total, n, seconds, opened, planned, filled))
        recon = [(p, reconcile_pass(stack, p, args.changed)) for p in ("woocommerce", "shopify")]
    finally:
        stack.close()
    print("\n| orders in the table | due | sweep time | incidents opened | compensations planned | (table filled in) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for total, n, seconds, opened, planned, filled in rows:
        print(f"| {total:,} | {n:,} | {seconds * 1000:.0f} ms | {opened:,} | {planned:,} | {filled:.1f} s |")
    ratio = rows[1][2] / rows[0][2]
    print(f"\nsweep time, {args.orders:,} orders vs 10,000: {ratio:.2f}x\n")
    print("| reconciliation pass | changed orders | time | orders/s |")
    print("|---|---:|---:|---:|")
    for platform, seconds in recon:
        print(f"| {platform} (local fake) | {args.changed:,} | {seconds:.1f} s | {args.changed / seconds:.0f} |")


if __name__ == "__main__":
    main()
