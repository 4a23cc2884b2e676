"""Messages benchmark: 10,000 customer messages rendered and delivered by one worker to a local SMTP server.

10,000 orders (Shopify's sample order, paid ten days ago and never shipped, half in Spanish and half in
English, one in five with its payment voided) are stored through the inbox and drained into incidents
while the shop's quiet hours hold every message back. Then the quiet hours move away, every incident is
due at once, and one `redress worker --burst` process records each incident's first message (the
schedule, the words in the customer's language, text and HTML with the CSS inlined) and hands it to a
real SMTP server (aiosmtpd) on loopback. The clock runs until the SMTP server holds every message.

Then the latency from detection to the first message: 1,000 more orders arrive as stored deliveries with
nothing held back, and one worker drains them into incidents and tells their customers; for each message,
the time from the incident's opening (detection) and from the delivery's arrival to the SMTP server's
acceptance, p50 and p99.

    .venv/bin/python bench/messages.py [--messages 10000] [--latency-orders 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sqlalchemy import text  # noqa: E402

from bench.common import SmtpCounter, Stack, late_orders, set_policy, store_all  # noqa: E402
from plugin.extensions import db  # noqa: E402
from plugin.storage.queue import request_drain, request_messages  # noqa: E402

REDRESS = str(Path(sys.executable).parent / "redress")


def quiet_hours_around(now: datetime, hours: int) -> dict:
    """Quiet hours (the shop is on UTC) from an hour ago to `hours` from now, or, with `hours` < 0, far away."""
    start = now - timedelta(hours=1) if hours > 0 else now + timedelta(hours=6)
    end = now + timedelta(hours=hours) if hours > 0 else now + timedelta(hours=7)
    return {"from": f"{start:%H:%M}", "to": f"{end:%H:%M}"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--latency-orders", type=int, default=1_000)
    args = ap.parse_args()
    stack, smtp = Stack(), SmtpCounter().start()
    try:
        engine = db(stack.app).engine
        now = datetime.now(UTC)
        set_policy(stack, rules=[], communication={"quiet_hours": quiet_hours_around(now, 3)})
        store_all(stack, late_orders(args.messages, voided_share=0.2))
        request_drain(stack.redis)
        subprocess.run([REDRESS, "worker", "--burst"], env=stack.env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with engine.begin() as c:
            incidents = c.execute(text("SELECT count(*) FROM incidents")).scalar()
            held = c.execute(text("SELECT count(*) FROM messages")).scalar()
        assert incidents == args.messages and held == 0, (incidents, held)

        set_policy(stack, communication={"quiet_hours": quiet_hours_around(now, -1)})
        env = dict(stack.env, SMTP_URL=smtp.url)
        t = time.perf_counter()
        subprocess.run([REDRESS, "worker", "--burst"], env=env, check=True)
        startup_s = time.perf_counter() - t

        with engine.begin() as c:
            c.execute(text("UPDATE incidents SET next_message_at = :now"), {"now": datetime.now(UTC)})
        request_messages(stack.redis)
        t = time.perf_counter()
        worker = subprocess.Popen([REDRESS, "worker", "--burst"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        recorded_s = None
        while smtp.count < args.messages and worker.poll() is None:
            if recorded_s is None:
                with engine.connect() as c:
                    if c.execute(text("SELECT count(*) FROM messages")).scalar() >= args.messages:
                        recorded_s = time.perf_counter() - t
            time.sleep(0.05)
        total_s = time.perf_counter() - t
        sent, wire = smtp.count, smtp.bytes
        worker.wait(60)
        with engine.connect() as c:
            states = dict(c.execute(text("SELECT state, count(*) FROM messages GROUP BY state")).all())
            locales = dict(c.execute(text("SELECT locale, count(*) FROM messages GROUP BY locale")).all())
        latency = first_message_latency(stack, smtp, env, args.latency_orders, args.messages)
    finally:
        smtp.stop()
        stack.close()
    work_s = total_s - startup_s
    print(f"\n{args.messages} incidents due at once; one worker recorded and delivered {sent} messages "
          f"({', '.join(f'{n} {k}' for k, n in sorted(locales.items()))}; states {states}), "
          f"{wire / max(sent, 1) / 1024:.1f} KB each on the wire\n")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| worker wall time, start-up included | {total_s:.2f} s |")
    print(f"| worker start-up (empty queue) | {startup_s:.2f} s |")
    if recorded_s is not None:
        print(f"| all messages recorded (rendered and committed) after | {recorded_s:.2f} s |")
    print(f"| messages per second, start-up included | {sent / total_s:.0f} |")
    print(f"| messages per second, working | {sent / work_s:.0f} |")
    print(f"\n{args.latency_orders} orders stored at once, then drained and told by one worker:\n")
    print("| from | to the SMTP server's acceptance, p50 | p99 |")
    print("|---|---:|---:|")
    for name, (p50, p99) in latency.items():
        print(f"| {name} | {p50:.2f} s | {p99:.2f} s |")


def first_message_latency(stack: Stack, smtp: SmtpCounter, env: dict, n: int, offset: int) -> dict:
    engine = db(stack.app).engine
    with engine.connect() as c:
        before = c.execute(text("SELECT coalesce(max(id), 0) FROM webhook_deliveries")).scalar()
    store_all(stack, late_orders(n, voided_share=0.2, first=offset))
    request_drain(stack.redis)
    subprocess.run([REDRESS, "worker", "--burst"], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with engine.connect() as c:
        # Stored in the order of the orders' ids, one delivery each.
        arrived = c.execute(text("SELECT received_at FROM webhook_deliveries WHERE id > :b ORDER BY id"),
                            {"b": before}).scalars().all()
        rows = c.execute(text(
            "SELECT o.platform_order_id, i.opened_at, m.sent_at FROM messages m"
            " JOIN incidents i ON i.id = m.incident_id JOIN orders o ON o.id = i.order_id"
            " WHERE m.purpose = 'opened' AND m.state = 'sent' AND o.platform_order_id::bigint >= :first"),
            {"first": 20_000_000 + offset}).all()
    assert len(rows) == n == len(arrived), (len(rows), n, len(arrived))
    first_id = 20_000_000 + offset

    def pct(values: list[float]) -> tuple[float, float]:
        values.sort()
        return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]

    return {"detection (the incident opened)": pct([(r.sent_at - r.opened_at).total_seconds() for r in rows]),
            "the delivery's arrival": pct([(r.sent_at - arrived[int(r.platform_order_id) - first_id])
                                          .total_seconds() for r in rows])}


if __name__ == "__main__":
    main()
