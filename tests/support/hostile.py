"""Hostile payloads: the real sample deliveries with any one value replaced, random JSON, odd bodies."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from tests.support.platforms import FIXTURES

ODD_TIMES = [
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "9999-12-31T10:00:00Z", "0001-01-01T00:00:00Z",
    "2026-02-30T10:00:00Z", "2026-11-22 10:00", "2026-11-22", "22/11/2026", "1700000000", "99999999999999",
    "-1", "T", "2026-W47-7", "+002026-11-22T10:00:00Z", "2026-11-22T10:00:00.123456789Z", "1969-12-31T23:59:59Z",
    "2026-11-22T25:00:00", "2026-11-22T10:00:00+99:00", "0000-00-00 00:00:00",
]
ODD_NUMBERS = [10**30, -(10**30), 10**4000, 2**63, -1, -0.5, 1e308, -1e308, 5e-324, "1e999999999", "-1e-999999999",
               "NaN", "Infinity", "-0", "0x1F", "1_000", "١٢٣", "12.345.67", " 12 "]
ODD_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfff", "Ω≈ç√∫˜µ≤", "🦆" * 50, "a" * 100_000, "\u202e\u0301",
            "null", "true", "[]", "{}", "<script>", "'; DROP TABLE orders; --"]

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
                | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=3)
                           | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=8)
hostile_values = (st.sampled_from(ODD_TIMES) | st.sampled_from(ODD_NUMBERS) | st.sampled_from(ODD_TEXT)
                  | st.sampled_from([float("nan"), float("inf"), float("-inf"), True, False, None, [], {}])
                  | json_values)


def budget(small: int) -> int:
    """`small` examples in `make test`; the profile's big budget under `make fuzz` (HYPOTHESIS_PROFILE=fuzz)."""
    return settings().max_examples if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else small


def sample(platform: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / platform / name).read_text())


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a document a value sits, containers included."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def replaced(doc: Any, path: tuple, value: Any) -> Any:
    """A copy of `doc` with the value at `path` replaced (or removed, for the `DROP` marker)."""
    doc = json.loads(json.dumps(doc))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if value is DROP and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = None if value is DROP else value
    return doc


DROP = object()


@st.composite
def spoiled(draw, doc: dict[str, Any], changes: int = 2) -> dict[str, Any]:
    """A real document with one or a few of its values (at any depth) replaced by hostile ones, or removed."""
    for _ in range(draw(st.integers(1, changes))):
        if not paths(doc):
            break
        path = draw(st.sampled_from(paths(doc)))
        doc = replaced(doc, path, draw(st.just(DROP) | hostile_values))
    return doc


def keyed_objects(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Random objects whose keys are mostly ones the normalizers read, so random values get deep."""
    key = st.sampled_from(keys) | st.text(max_size=6)
    value = st.recursive(hostile_values, lambda c: st.lists(c, max_size=3) | st.dictionaries(key, c, max_size=6),
                         max_leaves=20)
    return st.dictionaries(key, value, max_size=12)
