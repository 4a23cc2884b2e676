"""The merchant desk over many shops: 1,000,000 incidents across 1,000 shops in PostgreSQL (a year of them, the
seeding of bench/crises.py with e-mail addresses, order lines and issued coupons added), then, side by side:

1. the filtered incident list as the desk and the API run it (filters read from the query string, one keyset
   page, its total, every incident rendered as the API's JSON), a mix of filters over random shops, with
   p50/p95/max per filter and an EXPLAIN (ANALYZE) of the slowest kind. Aim: p95 under 150 ms.
2. one shop's analytics over 90 days, for random shops, and its CSV export. Aim: under 500 ms.

Each query gets its own session, as a request does.

    .venv/bin/python bench/desk.py [--incidents 1000000] [--shops 1000] [--queries 220] [--reports 20]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sqlalchemy import event, text  # noqa: E402

from bench.common import Stack  # noqa: E402
from bench.crises import NOW, fill, more_shops  # noqa: E402
from plugin.analytics.export import rows as csv_rows  # noqa: E402
from plugin.analytics.report import report  # noqa: E402
from plugin.desk.queries import count, find, parse_filters  # noqa: E402
from plugin.extensions import db  # noqa: E402
from plugin.incidents.presentation import incident_json  # noqa: E402
from plugin.storage.models import Shop  # noqa: E402

SKUS = 50
TODAY = NOW.date()
# The filters of the mix, in the order they are reported; each query of the run takes the next one in turn.
KINDS = ("none", "status=active", "kind=transit_stalled", "responsibility=carrier&carrier=Correos", "country=PT",
         "sku", "q=number", "q=email", "from/to 30 days", "page 2")
LIST_AIM_MS = 150
REPORT_AIM_MS = 500


def extend(engine) -> None:
    """What the desk and the analytics read beyond crises.py's seed: every order's customer e-mail, one or two
    order lines of 50 SKUs, and an issued 4.00 EUR coupon on one incident in five. Deterministic."""
    with engine.begin() as c:
        c.execute(text("SELECT setseed(0.24)"))
        c.execute(text("UPDATE orders SET customer_email = 'c' || id || '@example.com'"))
        # Lines drawn in one pass (a materialized CTE), the second one of another SKU than the first.
        c.execute(text("""
            WITH drawn AS MATERIALIZED (
              SELECT id, shop_id, floor(random() * :skus)::int AS a, 1 + floor(random() * (:skus - 1))::int AS b,
                     random() < 0.5 AS two
              FROM orders ORDER BY id)
            INSERT INTO order_items (shop_id, order_id, sku, title, quantity)
            SELECT shop_id, id, 'SKU-' || lpad(sku::text, 2, '0'), 'Product ' || sku, 1 FROM (
              SELECT shop_id, id, a AS sku, 1 AS line FROM drawn
              UNION ALL SELECT shop_id, id, (a + b) % :skus, 2 FROM drawn WHERE two) AS l
            ORDER BY id, line"""), {"skus": SKUS})
        c.execute(text("""
            INSERT INTO compensations (incident_id, action, percent, currency, state, idempotency_key, value,
                                       code, rule, notes, attempts, created_at, updated_at)
            SELECT id, 'coupon_percent', 10, 'EUR', 'issued', 'bench:' || id, 4.00, 'SORRY' || id, 'bench',
                   CAST('[]' AS JSON), 1, opened_at + interval '1 hour', opened_at + interval '1 hour'
            FROM (SELECT id, opened_at, random() AS r FROM incidents ORDER BY id) AS i WHERE r < 0.2"""))
    # The UPDATE left a dead copy of every order: rewrite the table, as a long-lived database's would be.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM (FULL, ANALYZE) orders"))
        c.execute(text("VACUUM (ANALYZE)"))


@contextmanager
def statements(engine):
    """Every statement run on the engine meanwhile, with its parameters and milliseconds."""
    seen: list[list] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        seen.append([statement, parameters, (time.perf_counter() - conn.info.pop("bench_t")) * 1000])

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(engine, statement: str, parameters) -> list[str]:
    """The plan's nodes (no Filter/Buffers detail lines) and its execution time."""
    with engine.connect() as c:
        plan = [r[0] for r in c.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
    return [line for line in plan if "->" in line or line == plan[0] or "Execution Time" in line]


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def figures(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} {pct(values, 95):7.1f} {max(values):7.1f}"


def plan_queries(stack: Stack, shop_ids: list[int], n: int, rng: random.Random) -> list[tuple[str, int, dict]]:
    """`n` list queries (kind, shop, query-string arguments) over random shops; the arguments a query needs from
    its shop (an order's number or e-mail, the second page's cursor) are read here, before any timing."""
    out = []
    with db(stack.app).session() as s:
        for i in range(n):
            kind, shop = KINDS[i % len(KINDS)], rng.choice(shop_ids)
            args: dict[str, str] = {}
            if kind == "status=active":
                args = {"status": "active"}
            elif kind == "kind=transit_stalled":
                args = {"kind": "transit_stalled"}
            elif kind.startswith("responsibility"):
                args = {"responsibility": "carrier", "carrier": "Correos"}
            elif kind == "country=PT":
                args = {"country": "PT"}
            elif kind == "sku":
                args = {"sku": f"SKU-{rng.randrange(SKUS):02d}"}
            elif kind.startswith("q="):
                shop_incidents = s.execute(text("SELECT count(*) FROM incidents WHERE shop_id = :s"),
                                           {"s": shop}).scalar_one()
                number, email = s.execute(text(
                    "SELECT o.number, o.customer_email FROM incidents i JOIN orders o ON o.id = i.order_id"
                    " WHERE i.shop_id = :s ORDER BY i.id OFFSET :k LIMIT 1"),
                    {"s": shop, "k": rng.randrange(shop_incidents)}).one()
                # Half the numbers typed without their "#", e-mails as the customer wrote them, capitalised.
                args = {"q": (number.lstrip("#") if i % 2 else number) if kind == "q=number" else email.upper()}
            elif kind.startswith("from/to"):
                end = TODAY - timedelta(days=rng.randrange(336))
                args = {"from": (end - timedelta(days=29)).isoformat(), "to": end.isoformat()}
            elif kind == "page 2":
                first = find(s, shop, parse_filters({}, TODAY))
                args = {"before_id": str(first.next_cursor)}
            out.append((kind, shop, args))
    return out


def one_list(stack: Stack, shop: int, args: dict) -> tuple[float, int, int]:
    """One request's work: filters read, a page found, the total counted, the page rendered as the API's JSON."""
    t = time.perf_counter()
    with db(stack.app).session() as s:
        f = parse_filters(args, TODAY)
        page = find(s, shop, f)
        total = count(s, shop, f)
        json.dumps([incident_json(inc) for inc in page.incidents])  # what the API writes on the wire
    return (time.perf_counter() - t) * 1000, len(page.incidents), total


def one_report(stack: Stack, shop_id: int, days: int) -> tuple[float, dict]:
    with db(stack.app).session() as s:
        shop = s.get(Shop, shop_id)
        t = time.perf_counter()
        data = report(s, shop, TODAY - timedelta(days=days - 1), TODAY, NOW)
        return (time.perf_counter() - t) * 1000, data


def one_csv(stack: Stack, shop_id: int, days: int) -> tuple[float, int, int]:
    with db(stack.app).session() as s:
        shop = s.get(Shop, shop_id)
        t = time.perf_counter()
        lines = size = 0
        for line in csv_rows(s, shop, TODAY - timedelta(days=days - 1), TODAY):
            lines += 1
            size += len(line)
        return (time.perf_counter() - t) * 1000, lines - 1, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--shops", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=220, help="list queries timed (10 filter kinds in turn)")
    parser.add_argument("--reports", type=int, default=20, help="shops whose 90-day analytics are timed")
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    rng = random.Random(5)
    stack = Stack("redress_bench_desk")
    try:
        engine = db(stack.app).engine
        t = time.perf_counter()
        more_shops(engine, stack.shop_id, args.shops)
        fill(engine, args.incidents, args.shops)
        extend(engine)
        with engine.connect() as c:
            n_items, n_comps, shop_ids = (
                c.execute(text("SELECT count(*) FROM order_items")).scalar_one(),
                c.execute(text("SELECT count(*) FROM compensations")).scalar_one(),
                [r[0] for r in c.execute(text("SELECT id FROM shops ORDER BY id"))])
        print(f"seeded {args.incidents:,} incidents across {args.shops:,} shops ({n_items:,} order lines, "
              f"{n_comps:,} issued coupons) in {time.perf_counter() - t:.0f} s")

        # 1. The incident list.
        queries = plan_queries(stack, shop_ids, args.queries, rng)
        for _kind, shop, q in plan_queries(stack, shop_ids, 2 * len(KINDS), random.Random(6)):  # warm-up
            one_list(stack, shop, q)
        by_kind: dict[str, list[float]] = defaultdict(list)
        found: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for kind, shop, q in queries:
            ms, shown, total = one_list(stack, shop, q)
            by_kind[kind].append(ms)
            found[kind].append((shown, total))
        print(f"\nincident list (find + count + incident_json), {len(queries)} queries over random shops, "
              f"ms (aim: p95 under {LIST_AIM_MS} ms)")
        print(f"{'filter':40} {'n':>3} {'p50':>7} {'p95':>7} {'max':>7} {'shown':>6} {'total':>6}")
        for kind in KINDS:
            shown = statistics.mean(s for s, _ in found[kind])
            total = statistics.mean(t for _, t in found[kind])
            print(f"{kind:40} {len(by_kind[kind]):3} {figures(by_kind[kind])} {shown:6.0f} {total:6.0f}")
        every = [ms for kind in KINDS for ms in by_kind[kind]]
        print(f"{'all':40} {len(every):3} {figures(every)}")
        slowest = max(KINDS, key=lambda k: pct(by_kind[k], 95))
        kind, shop, q = next(x for x in queries if x[0] == slowest)
        with statements(engine) as seen:
            one_list(stack, shop, q)
        print(f"\nslowest kind by p95: {slowest} ({q}); its statements, ms:")
        for statement, _, ms in seen:
            print(f"  {ms:6.1f}  {' '.join(statement.split())[:110]}")
        main_query, count_query = seen[0], next(x for x in seen if x[0].lstrip().startswith("SELECT count"))
        for name, (statement, params, _) in (("page", main_query), ("count", count_query)):
            print(f"EXPLAIN (ANALYZE) of the {name} query:")
            for line in explain(engine, statement, params):
                print("  " + line)

        # 2. Analytics.
        chosen = rng.sample(shop_ids, args.reports)
        for shop in rng.sample(shop_ids, 3):  # warm-up
            one_report(stack, shop, args.days)
        times = []
        for shop in chosen:
            ms, data = one_report(stack, shop, args.days)
            times.append(ms)
        print(f"\n{args.days}-day analytics report, {len(chosen)} random shops, ms (aim: under {REPORT_AIM_MS} ms)")
        print(f"{'':40} {'n':>3} {'p50':>7} {'p95':>7} {'max':>7}")
        print(f"{'report()':40} {len(times):3} {figures(times)}")
        print(f"  (the last: {data['incidents']['total']} incidents, cost {data['compensation']['total']} "
              f"{data['compensation']['currency']}, {len(data['incidents']['by_sku'])} SKUs)")
        with statements(engine) as seen:
            one_report(stack, chosen[0], args.days)
        seen.sort(key=lambda x: -x[2])
        print("  its slowest statements, ms:")
        for statement, _, ms in seen[:3]:
            print(f"  {ms:6.1f}  {' '.join(statement.split())[:110]}")
        print("EXPLAIN (ANALYZE) of the slowest:")
        for line in explain(engine, seen[0][0], seen[0][1]):
            print("  " + line)
        one_csv(stack, chosen[0], args.days)  # warm-up
        csv_times = []
        for _ in range(5):
            ms, lines, size = one_csv(stack, chosen[0], args.days)
            csv_times.append(ms)
        print(f"{'CSV export (5 runs, one shop)':40} {len(csv_times):3} {figures(csv_times)}"
              f"   ({lines} rows, {size / 1024:.0f} KB)")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
