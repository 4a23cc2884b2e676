"""A finding: one incident an order's facts call for, with whose fault it is and the evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class Finding:
    kind: str
    responsibility: str
    evidence: list[dict[str, Any]]  # [{"at": ISO time, "source": where it was seen, "fact": what and why}]
    since: datetime | None = None  # when the order went wrong: the missed deadline, the cancellation
