"""Chaos run: the demo's day through real processes on PostgreSQL and Redis while workers are killed,
Redis restarts, PostgreSQL stops and the stores storm; one table of what was expected and what was found.
Exits 1 if anything was lost, paid twice, failed or left a customer untold. See `tests/support/chaos.py`.

    .venv/bin/python bench/chaos.py [--short]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.chaos import run, table  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true", help="a brief database outage, as `make test` runs it")
    args = ap.parse_args()
    started = time.monotonic()
    outcome = run(short=args.short)
    print(f"\nchaos run in {time.monotonic() - started:.0f} s; faults:")
    for fault in outcome.faults:
        print(f"- {fault}")
    print()
    print(table(outcome))
    if outcome.problems:
        print("\nPROBLEMS:\n" + "\n".join(f"- {p}" for p in outcome.problems))
        sys.exit(1)
    print("\nnothing lost, nothing paid twice, every customer told")


if __name__ == "__main__":
    main()
