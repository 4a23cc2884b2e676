"""The chaos run's short form: the demo's day, every delivery three times and shuffled, through real
processes while a worker is killed mid-drain, PostgreSQL stops and the stores storm. Nothing may be lost,
paid twice or sent twice. `make chaos` runs the full form, which also restarts Redis and kills the workers
while a refund is in flight."""

from __future__ import annotations

from tests.support.chaos import run, table


def test_nothing_is_lost_paid_twice_or_sent_twice_while_things_break():
    outcome = run(short=True)
    print(table(outcome))
    assert [f.split(" ")[0] for f in outcome.faults] == ["worker-1", "PostgreSQL", "Shopify:", "WooCommerce:"]
    assert outcome.problems == [], "\n" + table(outcome) + "\n" + "\n".join(outcome.problems)
    assert not any(f.split(": ")[1].startswith("0 of") for f in outcome.faults[2:]), outcome.faults  # storms served
