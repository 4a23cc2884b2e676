"""Group commit: the inbox rows of concurrent requests written by one INSERT and one commit.

No thread of its own and no waiting for company: the first request to find no write under way leads. It
takes every row queued so far (its own among them), writes them in one statement and one commit, and hands
each request its own answer; the requests that queued meanwhile wait, and one of them leads the next group.
A lone request is written at once, as before; under load, one commit carries many rows. Each request still
returns only after the commit that holds its row, and a group that fails fails every request in it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")
Key = TypeVar("Key")


@dataclass(eq=False)
class _Waiter(Generic[Row]):
    row: Row
    done: bool = False
    fresh: bool = False
    error: BaseException | None = None


@dataclass
class GroupCommit(Generic[Row, Key]):
    """`write(rows)` stores rows in one transaction and returns the keys of those that were new;
    `key(row)` is a row's identity (two rows of one key in a group: the first is the new one)."""

    write: Callable[[Sequence[Row]], set[Key]]
    key: Callable[[Row], Key]
    max_rows: int = 200
    _queue: list[_Waiter[Row]] = field(default_factory=list)
    _writing: bool = False
    _cond: threading.Condition = field(default_factory=threading.Condition)
    groups: int = 0  # how many commits so far (for the benchmark and the tests)
    rows: int = 0

    @property
    def queued(self) -> int:
        """Rows waiting for the next group's commit."""
        with self._cond:
            return len(self._queue)

    def submit(self, row: Row) -> bool:
        """Store `row`; True when it was new, False when its key was stored before. Raises what the write
        of its group raised."""
        me = _Waiter(row)
        with self._cond:
            self._queue.append(me)
        while True:
            with self._cond:
                while not me.done and self._writing:
                    self._cond.wait()
                if me.done:
                    break
                self._writing = True
                group, self._queue[:] = self._queue[:self.max_rows], self._queue[self.max_rows:]
            self._lead(group)
        if me.error is not None:
            raise me.error
        return me.fresh

    def _lead(self, group: list[_Waiter[Row]]) -> None:
        error: BaseException | None = None
        fresh: set[Any] = set()
        try:
            fresh = self.write([w.row for w in group])
        except BaseException as exc:  # every request of the group answers with it (a 503 for the platform)
            error = exc
        with self._cond:
            claimed: set[Any] = set()
            for w in group:
                k = self.key(w.row)
                w.fresh, w.error, w.done = error is None and k in fresh and k not in claimed, error, True
                claimed.add(k)
            self.groups += 1
            self.rows += len(group)
            self._writing = False
            self._cond.notify_all()
