"""Group commit: concurrent requests share one commit, each still answers only after the commit that holds
its row, a duplicate in the same group is a duplicate, and a failed group fails every request in it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.intake.group import GroupCommit


class Store:
    """A writer that can be held mid-commit, to line requests up behind it."""

    def __init__(self):
        self.keys: set[str] = set()
        self.commits: list[list[str]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.writing = threading.Event()
        self.fail_groups_of: int | None = None

    def write(self, rows):
        self.writing.set()
        self.hold.wait(10)
        if len(rows) == self.fail_groups_of:
            raise ConnectionError("the database went away")
        fresh = {r for r in rows if r not in self.keys}
        self.keys |= fresh
        self.commits.append(list(rows))
        return fresh


def group(store: Store, max_rows: int = 200) -> GroupCommit:
    return GroupCommit(write=store.write, key=lambda r: r, max_rows=max_rows)


def _queued(gc: GroupCommit, n: int) -> None:
    deadline = time.monotonic() + 10
    while gc.queued < n and time.monotonic() < deadline:
        time.sleep(0.005)
    assert gc.queued == n


def test_a_lone_request_is_written_at_once():
    store = Store()
    gc = group(store)
    assert gc.submit("a") is True
    assert gc.submit("a") is False
    assert store.commits == [["a"], ["a"]]


def test_requests_arriving_during_a_commit_share_the_next_one_and_each_answers_after_it():
    store, pool = Store(), ThreadPoolExecutor(20)
    gc = group(store)
    store.hold.clear()
    first = pool.submit(gc.submit, "k0")
    store.writing.wait(5)
    rest = [pool.submit(gc.submit, f"k{i}") for i in range(1, 20)]
    _queued(gc, 19)
    assert not any(f.done() for f in [first, *rest])  # nobody answers before its commit
    store.hold.set()
    assert [f.result(10) for f in [first, *rest]] == [True] * 20
    assert [len(c) for c in store.commits] == [1, 19]  # two commits for twenty rows


def test_the_same_delivery_twice_in_one_group_is_new_once():
    store, pool = Store(), ThreadPoolExecutor(4)
    gc = group(store)
    store.hold.clear()
    lead = pool.submit(gc.submit, "other")
    store.writing.wait(5)
    twins = [pool.submit(gc.submit, "same") for _ in range(3)]
    _queued(gc, 3)
    store.hold.set()
    lead.result(10)
    assert sorted(f.result(10) for f in twins) == [False, False, True]


def test_a_failed_group_fails_each_of_its_requests_and_the_next_group_is_written():
    store, pool = Store(), ThreadPoolExecutor(6)
    gc = group(store)
    store.hold.clear()
    lead = pool.submit(gc.submit, "first")
    store.writing.wait(5)
    doomed = [pool.submit(gc.submit, f"d{i}") for i in range(4)]
    _queued(gc, 4)
    store.fail_groups_of = 4  # the database goes away while the second group commits
    store.hold.set()
    assert lead.result(10) is True
    for f in doomed:
        with pytest.raises(ConnectionError):
            f.result(10)
    assert not {"d0", "d1", "d2", "d3"} & store.keys
    assert gc.submit("d0") is True  # the platform's retry is stored by the next group


def test_a_group_never_grows_past_its_limit():
    store, pool = Store(), ThreadPoolExecutor(12)
    gc = group(store, max_rows=4)
    store.hold.clear()
    lead = pool.submit(gc.submit, "lead")
    store.writing.wait(5)
    rest = [pool.submit(gc.submit, f"r{i}") for i in range(10)]
    _queued(gc, 10)
    store.hold.set()
    assert all(f.result(10) for f in [lead, *rest])
    assert max(len(c) for c in store.commits) <= 4 and sum(len(c) for c in store.commits) == 11


@settings(max_examples=25, deadline=None)
@given(keys=st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=40))
def test_whatever_arrives_together_each_key_is_new_exactly_once(keys):
    store = Store()
    gc = group(store, max_rows=5)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(gc.submit, keys))
    for k in set(keys):
        assert sum(a for key, a in zip(keys, answers, strict=True) if key == k) == 1
    assert store.keys == set(keys)
