"""What judging an order produces: findings (one incident each, with whose fault it is and the evidence),
the families that recovered or cannot be judged, and when to look again.

Pure domain code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plugin.orders.facts import iso
from plugin.vocabulary import Family, Kind, Responsibility

Evidence = dict[str, Any]  # {"at": ISO time, "source": where it was seen, "fact": what and why}


@dataclass(frozen=True)
class Witness:
    """Writes evidence seen from one source; a fact with no time of its own is dated `now`."""

    source: str
    now: datetime

    def __call__(self, at: datetime | None, fact: str) -> Evidence:
        return {"at": iso(at or self.now), "source": self.source, "fact": fact}


@dataclass
class Finding:
    kind: Kind
    responsibility: Responsibility
    evidence: list[Evidence]
    since: datetime | None = None  # when the order went wrong: the missed deadline, the cancellation


@dataclass
class Assessment:
    findings: list[Finding] = field(default_factory=list)
    recovered: dict[Family, list[Evidence]] = field(default_factory=dict)
    # The order is gone: every open incident is dismissed with this evidence.
    dismiss: list[Evidence] | None = None
    # Families that cannot be judged at all: an open incident of one had no grounds and is dismissed.
    withdrawn: dict[Family, list[Evidence]] = field(default_factory=dict)
    next_check_at: datetime | None = None

    def due(self, when: datetime | None) -> None:
        """Look at the order again no later than `when`."""
        if when is not None and (self.next_check_at is None or when < self.next_check_at):
            self.next_check_at = when

    def recover(self, families: tuple[Family, ...], evidence: Evidence) -> None:
        for family in families:
            self.recovered[family] = [evidence]
