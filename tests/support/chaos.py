"""The chaos run: the demo's day of orders through real processes on PostgreSQL and Redis while things break.

Redress runs as in production: `redress web` (granian), two `redress worker` processes and `redress clock`,
against a PostgreSQL server and a Redis server of its own, with the demo's two simulated stores. Every
delivery of the day is sent three times, in a shuffled order, retried as the platforms retry (503 or no
answer: again, after a pause). While they flow: a worker is killed with SIGKILL mid-drain and another
mid-refund (the store made the refund, the answer never arrived), Redis restarts, PostgreSQL stops and
starts again, and the stores answer THROTTLED, 429 and 5xx storms. Then the run waits until everything is
worked through and counts what happened against what the day holds.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from plugin.app import create_app
from plugin.config import Config
from plugin.demo.day import stories
from plugin.demo.payloads import Delivery, deliveries
from plugin.demo.replay import headers_for
from plugin.demo.shops import connect
from plugin.demo.stores import made, seed, start_stores
from plugin.extensions import db
from plugin.storage import migrate
from plugin.storage.crypto import generate_key
from plugin.storage.models import Compensation, Incident, Message, WebhookDelivery
from plugin.storage.queue import CRISES, MESSAGES, QUEUES, enqueue, queue
from plugin.vocabulary import CompensationState, MessageState
from tests.support.demo_day import expected_incidents, order_incidents
from tests.support.pg import PostgresServer
from tests.support.redis_server import RedisServer

BIN = Path(sys.executable).parent
STORM = ["throttled", "429", "500", "throttled", "500", "429"]


@dataclass
class Tally:
    sent: int = 0
    acknowledged: int = 0
    duplicates: int = 0
    server_errors: int = 0  # 5xx answers (503 while the database is down); each was sent again
    unanswered: int = 0  # no answer at all (a refused connection); sent again
    faults: list[str] = field(default_factory=list)


@dataclass
class Stack:
    tmp: Path
    pg: PostgresServer
    redis: RedisServer
    env: dict[str, str]
    port: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def spawn(self, name: str, *args: str) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it
        self.procs[name] = subprocess.Popen([str(BIN / "redress"), *args], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=self.tmp)

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stack() -> Stack:
    tmp = Path(tempfile.mkdtemp(prefix="redress-chaos-"))
    pg = PostgresServer(durable=True).start()
    with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as c:
        c.execute("CREATE DATABASE redress_chaos")
    url = pg.url("redress_chaos")
    migrate.upgrade(url)
    rs = RedisServer(tmp).start()
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=rs.url, REDRESS_INSTANCE_DIR=str(tmp / "instance"),
               REDRESS_ENCRYPTION_KEYS=generate_key(), REDRESS_SECRET_KEY="chaos",
               REDRESS_PUBLIC_URL=f"http://127.0.0.1:{port}", REDRESS_ALLOW_PRIVATE_STORES="1",
               REDRESS_PLATFORM_TIMEOUT="2", WEB_CONCURRENCY="2")
    return Stack(tmp, pg, rs, env, port)


def app_for(stack: Stack):
    e = stack.env
    return create_app(Config(instance_dir=Path(e["REDRESS_INSTANCE_DIR"]), database_url=e["DATABASE_URL"],
                             redis_url=e["REDIS_URL"], secret_key="chaos", public_url=e["REDRESS_PUBLIC_URL"],
                             encryption_keys=e["REDRESS_ENCRYPTION_KEYS"].split(","), allow_private_stores=True))


def post(base: str, d: Delivery, shops, tally: Tally, deadline: float) -> None:
    """As a platform does: again after a pause while the answer is 5xx or none, until a 200."""
    path, headers = headers_for(d, shops)
    pause = 0.2
    while time.monotonic() < deadline:
        try:
            r = requests.post(base + path, data=d.body, timeout=10,
                              headers={"Content-Type": "application/json", **headers})
        except requests.RequestException:
            tally.unanswered += 1
        else:
            if r.status_code == 200:
                tally.acknowledged += 1
                tally.duplicates += r.json().get("status") == "duplicate"
                return
            if r.status_code < 500:
                raise AssertionError(f"{path} answered {r.status_code}: {r.text[:200]}")
            tally.server_errors += 1
        time.sleep(pause)
        pause = min(pause * 2, 3)
    raise AssertionError(f"a delivery was never acknowledged ({d.topic} {d.webhook_id})")


def _wait(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _refund_in_flight(stores) -> bool:
    """The store is working on a refund whose answer it will send too late (`timeout_after`)."""
    return stores.shopify._busy > 0 and any("RedressRefund(" in (b.get("query") or "")
                                            for b in stores.shopify.requests[-3:])


def _kill_mid_refund(stack: Stack, stores, tally: Tally) -> None:
    """Both workers may hold the refund job; whichever it is, kill every worker while the store is busy."""
    try:
        _wait(lambda: _refund_in_flight(stores), "a refund in flight", 300)
    except AssertionError:
        tally.faults.append("no refund was in flight to kill a worker during")
        return
    for name in [n for n in stack.procs if n.startswith("worker")]:
        stack.kill(name)
        stack.spawn(name, "worker")
    tally.faults.append("workers killed (SIGKILL) while a refund was in flight, then restarted")


def _kill_mid_drain(stack: Stack, tally: Tally) -> None:
    """SIGKILL worker-1 while RQ says it is running an inbox drain (its batch's transaction dies with it)."""
    from rq import Worker

    conn = redis.Redis.from_url(stack.redis.url)
    pid, deadline = stack.procs["worker-1"].pid, time.monotonic() + 60
    during = False
    while time.monotonic() < deadline and not during:
        for w in Worker.all(connection=conn):
            job = w.get_current_job() if w.pid == pid else None
            during = during or (job is not None and job.func_name == "jobs.ingest.drain")
        time.sleep(0.005)
    stack.kill("worker-1")
    stack.spawn("worker-1", "worker")
    tally.faults.append("worker-1 killed (SIGKILL) " + ("mid-drain" if during else "(no drain caught running)")
                        + ", then restarted")


def faults(stack: Stack, stores, tally: Tally, progress: list[int], total: int, short: bool) -> None:
    """Break things as the deliveries go: each fault at its share of the deliveries sent."""
    def at(share: float) -> None:
        _wait(lambda: progress[0] >= share * total, f"{share:.0%} of the deliveries", 600)

    at(0.15)
    _kill_mid_drain(stack, tally)
    if not short:  # what was enqueued while it was down is found again by the clock within 5-6 minutes
        at(0.35)
        stack.redis.restart()
        tally.faults.append("Redis restarted")
    at(0.5)
    stack.pg.pause()
    time.sleep(2 if short else 8)
    stack.pg.resume()
    tally.faults.append(f"PostgreSQL stopped for {2 if short else 8} s, then started again")


def send_all(stack: Stack, plan: list[Delivery], shops, tally: Tally, progress: list[int], senders: int,
             seconds: float) -> None:
    """`senders` at once, paced to take about `seconds`, so the faults land while deliveries flow."""
    pace = seconds * senders / max(len(plan), 1)
    base = stack.env["REDRESS_PUBLIC_URL"]
    work = list(plan)
    lock = threading.Lock()
    deadline = time.monotonic() + 900

    def sender() -> None:
        while True:
            with lock:
                if not work:
                    return
                d = work.pop()
            post(base, d, shops, tally, deadline)
            with lock:
                tally.sent += 1
                progress[0] += 1
            time.sleep(pace)

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def figures(app, shops, stores) -> dict[str, int]:
    ids = (shops.shopify_id, shops.woocommerce_id)
    with db(app).session() as s:
        def count(q) -> int:
            return int(s.execute(q).scalar_one())
        comp = select(func.count()).select_from(Compensation).join(Incident).where(Incident.shop_id.in_(ids))
        out = {
            "stored": count(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.shop_id.in_(ids), WebhookDelivery.delivery_key.not_like("%:reconcile:%"))),
            "reconciled": count(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.shop_id.in_(ids), WebhookDelivery.delivery_key.like("%:reconcile:%"))),
            "all_processed": count(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.shop_id.in_(ids), WebhookDelivery.processed_at.is_not(None))),
            "processed": count(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.shop_id.in_(ids), WebhookDelivery.processed_at.is_not(None),
                WebhookDelivery.delivery_key.not_like("%:reconcile:%"))),
            "incidents": count(select(func.count()).select_from(Incident).where(Incident.shop_id.in_(ids))),
            "messages_sent": count(select(func.count()).select_from(Message).where(
                Message.shop_id.in_(ids), Message.state == MessageState.SENT)),
            "messages_waiting": count(select(func.count()).select_from(Message).where(
                Message.shop_id.in_(ids), Message.state == MessageState.QUEUED)),
            "issued": count(comp.where(Compensation.state == CompensationState.ISSUED)),
            "in_flight": count(comp.where(Compensation.state.in_((CompensationState.PLANNED,
                                                                  CompensationState.ISSUING)))),
        }
    return {**out, **made(stores)}


def settle(stack: Stack, app, shops, stores, timeout: float) -> dict[str, int]:
    """Until every delivery is processed, no compensation or message is waiting and no job is queued, for
    three polls in a row (the clock's sweep picks up what a lost job left)."""
    conn = redis.Redis.from_url(stack.redis.url)
    calm, last, deadline = 0, None, time.monotonic() + timeout
    while calm < 3:
        if time.monotonic() > deadline:
            raise AssertionError(f"the run did not settle: {last}")
        time.sleep(1)
        try:
            now = figures(app, shops, stores)
        except OperationalError:  # this process's connections did not survive the database's restart
            db(app).dispose()
            continue
        jobs = sum(queue(conn, q).count for q in QUEUES)
        done = (now["all_processed"] == now["stored"] + now["reconciled"] and not now["in_flight"]
                and not now["messages_waiting"])
        calm = calm + 1 if done and now == last and not jobs else 0
        last = now
    return last


@dataclass
class Outcome:
    rows: list[tuple[str, str, str]]  # (what, expected, found)
    problems: list[str]
    faults: list[str]


def run(short: bool = False, seed_: int = 7) -> Outcome:
    """The whole run. `short` (for `make test`) keeps the database outage brief and leaves out the faults
    whose recovery waits for the clock's minutes-long safety margins: the Redis restart and the workers
    killed while a refund is in flight."""
    stack = start_stack()
    stores = start_stores()
    try:
        app = app_for(stack)
        stores.shopify.timeout_seconds = 3  # longer than REDRESS_PLATFORM_TIMEOUT: the answer is lost
        shops = connect(app, stores)
        day = stories()
        seed(stores, day, shops.anchor)
        plan = deliveries(day, shops.anchor)
        # Storms on both stores, and one refund whose answer is lost after the store made it.
        stores.shopify.failures += [*STORM, ("RedressRefund", "timeout_after")]
        stores.woocommerce.failures += ["429", "500", "500"]
        stack.spawn("web", "web", "--port", str(stack.port))
        stack.spawn("worker-1", "worker")
        stack.spawn("worker-2", "worker")
        stack.spawn("clock", "clock")
        _wait(lambda: _answers(stack.port), "the web server", 60)

        sends = [d for d in plan for _ in range(3)]
        random.Random(seed_).shuffle(sends)
        tally, progress = Tally(), [0]
        breakers = [threading.Thread(target=faults, args=(stack, stores, tally, progress, len(sends), short))]
        if not short:  # its recovery waits out the job's time limit (plugin.compensation.ledger.RESUME_AFTER)
            breakers.append(threading.Thread(target=_kill_mid_refund, args=(stack, stores, tally)))
        for b in breakers:
            b.start()
        send_all(stack, sends, shops, tally, progress, senders=4, seconds=30 if short else 90)
        for b in breakers:
            b.join()
        settle(stack, app, shops, stores, timeout=180 if short else 540)
        tally.faults += _storms(stores, len(STORM) + 1, 3)
        conn = redis.Redis.from_url(stack.redis.url)
        enqueue(conn, CRISES)
        enqueue(conn, MESSAGES)
        final = settle(stack, app, shops, stores, timeout=180)
        outcome = _outcome(app, stack, stores, day, plan, tally, final)
    finally:
        stack.stop_all()
        stores.stop()
        stack.redis.stop()
        stack.pg.stop()
    if outcome.problems:  # the processes' logs are kept for whoever looks into it
        outcome.problems.append(f"the processes' logs are in {stack.tmp}")
    else:
        shutil.rmtree(stack.tmp, ignore_errors=True)
    return outcome


def _storms(stores, shopify: int, woocommerce: int) -> list[str]:
    """What the stores' storms served (the faults left over were never asked for)."""
    return [f"Shopify: {shopify - len(stores.shopify.failures)} of {shopify} failures served (THROTTLED, 429, "
            "500, and a refund made but its answer lost)",
            f"WooCommerce: {woocommerce - len(stores.woocommerce.failures)} of {woocommerce} failures served "
            "(429, 500)"]


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _outcome(app, stack: Stack, stores, day, plan, tally: Tally, f: dict[str, int]) -> Outcome:
    with db(app).session() as s:
        comps = list(s.execute(select(Compensation)).scalars())
        told = Counter(m.incident_id for m in s.execute(select(Message)).scalars()
                       if str(m.audience) == "customer" and m.state == MessageState.SENT)
    ledger = Counter(str(c.action).split("_")[0] for c in comps if c.state == CompensationState.ISSUED)
    outbox = len(list((Path(stack.env["REDRESS_INSTANCE_DIR"]) / "outbox").glob("*.eml")))
    expected, found = expected_incidents(day), order_incidents(app)
    wrong = sorted(k for k in set(expected) | set(found) if expected.get(k, []) != found.get(k, []))
    rows = [
        ("deliveries sent (each of the day's three times, shuffled)", str(3 * len(plan)), str(tally.sent)),
        ("deliveries acknowledged (200)", str(tally.sent), str(tally.acknowledged)),
        ("  of which answered as duplicates", str(2 * len(plan)), str(tally.duplicates)),
        ("deliveries stored (distinct) / processed", f"{len(plan)} / {len(plan)}", f"{f['stored']} / {f['processed']}"),
        ("  and orders read again by reconciliation, processed", "any", str(f["reconciled"])),
        ("5xx answers, each sent again (database down)", "any", str(tally.server_errors)),
        ("no answer at all, sent again", "any", str(tally.unanswered)),
        ("incidents (per order, kind and whose fault)", str(sum(map(len, expected.values()))),
         f"{f['incidents']} ({len(wrong)} orders differ)"),
        ("refunds: ledger issued / made in the stores", str(ledger["refund"]), str(f["refunds"])),
        ("coupons: ledger issued / made in the stores", str(ledger["coupon"]), str(f["coupons"])),
        ("messages sent / e-mails in the outbox (one file per message)", str(f["messages_sent"]), str(outbox)),
        ("incidents whose customer was told", str(f["incidents"]), str(len(told))),
    ]
    problems = [f"{what}: expected {want}, found {got}" for what, want, got in [
        ("acknowledged", tally.sent, tally.acknowledged), ("stored", len(plan), f["stored"]),
        ("processed", f["stored"], f["processed"]), ("refunds made", ledger["refund"], f["refunds"]),
        ("coupons made", ledger["coupon"], f["coupons"]), ("outbox", f["messages_sent"], outbox)] if want != got]
    problems += [f"compensation {c.id} ({c.action}) ended {c.state}: {c.error}" for c in comps
                 if c.state == CompensationState.FAILED]
    problems += [f"order {k}: expected {expected.get(k, [])}, found {found.get(k, [])}" for k in wrong]
    problems += [f"incident {i} ({kind}, next message due {due}) never told its customer"
                 for i, kind, due in _untold(app, set(told))]
    if len(plan) * 3 != tally.sent:
        problems.append("not every delivery was sent")
    return Outcome(rows, problems, tally.faults)


def _untold(app, told: set[int]) -> list[tuple[int, str, object]]:
    with db(app).session() as s:
        rows = s.execute(select(Incident.id, Incident.kind, Incident.next_message_at).order_by(Incident.id)).all()
    return [(i, str(kind), due) for i, kind, due in rows if i not in told]


def table(outcome: Outcome) -> str:
    lines = ["| | expected | found |", "|---|---:|---:|"]
    lines += [f"| {what} | {want} | {got} |" for what, want, got in outcome.rows]
    return "\n".join(lines)
