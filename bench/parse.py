"""What reading a webhook body costs at the endpoint: plain `json.loads` against `json_object` (strict JSON,
UTF-8 only, no NaN, nesting bounded), on Shopify's 10.7 KB sample order, side by side in one run."""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.base import json_object  # noqa: E402

BODY = (ROOT / "tests/fixtures/shopify/orders_create.json").read_bytes()
RUNS = 20_000


def main() -> None:
    print(f"body {len(BODY)} bytes, {RUNS} parses per row, best of 5")
    for name, fn in (("json.loads", lambda: json.loads(BODY)), ("json_object", lambda: json_object(BODY))):
        best = min(timeit.repeat(fn, number=RUNS, repeat=5)) / RUNS
        print(f"{name:12} {best * 1e6:7.1f} µs per body")


if __name__ == "__main__":
    main()
