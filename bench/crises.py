"""Crisis detection over many shops: one pass over 1,000,000 incidents across 1,000 shops in PostgreSQL
(a year of them; the pass reads the last 29 days), with one planted wave of 40 stalled parcels in one
carrier lane of one shop. Prints the time of each pass and what it found. Aim: under 1 second.

    .venv/bin/python bench/crises.py [--incidents 1000000] [--shops 1000] [--passes 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sqlalchemy import text  # noqa: E402

from bench.common import Stack  # noqa: E402
from plugin.crises.detect import detect  # noqa: E402
from plugin.extensions import db  # noqa: E402
from plugin.storage.models import Shop  # noqa: E402

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CARRIERS = "(ARRAY['Correos','SEUR','UPS','DHL','GLS'])"
REGIONS = "(ARRAY['M','B','GA','V','SE','BI','Z','MA','A','MU'])"


def more_shops(engine, first_id: int, shops: int) -> None:
    columns = [c.name for c in Shop.__table__.columns if c.name not in ("id", "domain", "api_token_hash")]
    listed = ", ".join(columns)
    with engine.begin() as c:
        c.execute(text(f"""
            INSERT INTO shops (domain, api_token_hash, {listed})
            SELECT 'bench-' || g || '.myshopify.com', md5('token' || g), {listed}
            FROM shops, generate_series(2, :n) AS g WHERE shops.id = :first"""), {"n": shops, "first": first_id})


def fill(engine, incidents: int, shops: int) -> None:
    with engine.begin() as c:
        ids = [r[0] for r in c.execute(text("SELECT id FROM shops ORDER BY id"))]
        c.execute(text("SELECT setseed(0.42)"))  # the same year of incidents on every run
        c.execute(text(f"""
            INSERT INTO orders (shop_id, platform_order_id, number, currency, total, carrier, country, region,
                                deleted, facts, updated_at)
            SELECT (:ids)[1 + floor(random() * :shops)::int], 'o' || g, '#' || g, 'EUR', 40,
                   {CARRIERS}[1 + floor(random() * 5)::int], CASE WHEN random() < 0.15 THEN 'PT' ELSE 'ES' END,
                   {REGIONS}[1 + floor(random() * 10)::int], false,
                   CAST('{{}}' AS JSON), now()
            FROM generate_series(1, :n) AS g"""), {"ids": ids, "shops": shops, "n": incidents})
        # A year of incidents: two in three the carrier's, the rest the shop's, opened at random over 365 days.
        c.execute(text("""
            INSERT INTO incidents (shop_id, order_id, kind, responsibility, status, evidence, opened_at)
            SELECT o.shop_id, o.id,
                   CASE WHEN o.id % 3 = 0 THEN 'fulfillment_late' ELSE 'transit_stalled' END,
                   CASE WHEN o.id % 3 = 0 THEN 'shop' ELSE 'carrier' END,
                   CASE WHEN o.id % 10 = 0 THEN 'open' ELSE 'resolved' END, CAST('[]' AS JSON),
                   CAST(:now AS TIMESTAMPTZ) - random() * interval '365 days'
            FROM orders o"""), {"now": NOW})
        # The wave: 40 parcels of one lane of the first shop stalled in the last day.
        c.execute(text("""
            WITH o AS (
              INSERT INTO orders (shop_id, platform_order_id, number, currency, total, carrier, country, region,
                                  deleted, facts, updated_at)
              SELECT :shop, 'wave' || g, '#w' || g, 'EUR', 40, 'Correos', 'ES', 'GA', false, CAST('{}' AS JSON), now()
              FROM generate_series(1, 40) AS g RETURNING id, shop_id)
            INSERT INTO incidents (shop_id, order_id, kind, responsibility, status, evidence, opened_at)
            SELECT shop_id, id, 'transit_stalled', 'carrier', 'open', CAST('[]' AS JSON),
                   CAST(:now AS TIMESTAMPTZ) - (id % 20) * interval '1 hour' FROM o"""), {"shop": ids[0], "now": NOW})
        c.execute(text("ANALYZE"))


def one_pass(stack: Stack) -> tuple[float, int, int]:
    with db(stack.app).session() as s:
        t = time.perf_counter()
        found = detect(s, NOW)
        s.commit()
        return time.perf_counter() - t, len(found.opened), found.joined


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--shops", type=int, default=1_000)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    stack = Stack("redress_bench_crises")
    try:
        engine = db(stack.app).engine
        t = time.perf_counter()
        more_shops(engine, stack.shop_id, args.shops)
        fill(engine, args.incidents, args.shops)
        with engine.connect() as c:
            window = c.execute(text("SELECT count(*) FROM incidents WHERE opened_at > CAST(:now AS TIMESTAMPTZ)"
                                    " - interval '29 days'"), {"now": NOW}).scalar()
        print(f"seeded {args.incidents:,} incidents across {args.shops:,} shops in {time.perf_counter() - t:.0f} s; "
              f"{window:,} in the 29 days a pass reads")
        times = []
        for n in range(args.passes):
            seconds, opened, joined = one_pass(stack)
            times.append(seconds)
            print(f"pass {n + 1}: {seconds * 1000:.0f} ms, {opened} crisis(es) opened, {joined} incident(s) joined")
        print(f"crisis detection over all shops: median {statistics.median(times) * 1000:.0f} ms "
              f"(aim: under 1,000 ms)")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
