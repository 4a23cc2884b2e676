"""`redress demo` from start to end: stores up, shops connected, the day replayed, the summary, and the
stores kept serving (refunds approved on the desk later still reach them) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable

from flask import Flask

from plugin.demo.day import stories
from plugin.demo.payloads import deliveries
from plugin.demo.replay import Progress, replay
from plugin.demo.shops import connect
from plugin.demo.stores import seed, start_stores
from plugin.demo.summary import summary
from plugin.extensions import config, redis_conn

STATE_KEY = "redress:demo:state"  # what the front page shows while a demo started from it runs
STATE_SECONDS = 3600
START_KEY = "redress:demo:starting"  # held from the front page's button until the demo ends or fails


def publish(app: Flask, state: dict) -> None:
    """What the front page shows of the demo, with when it was said (a demo that goes quiet has died)."""
    with contextlib.suppress(Exception):  # the terminal still shows the progress; the page is a convenience
        redis_conn(app).set(STATE_KEY, json.dumps({**state, "at": time.time()}), ex=STATE_SECONDS)


def main(app: Flask, *, seconds: float, serve: bool, echo: Callable[..., None], link: Callable[[int], str]) -> int:
    """`link(shop_id)`: a one-time sign-in link to the shop's desk."""
    publish(app, {"stage": "starting"})
    stores = start_stores()
    try:
        echo(f"Simulated stores at {stores.server.url_for('')} (Shopify Admin GraphQL and WooCommerce wc/v3)")
        shops = connect(app, stores)
        day = stories()
        seed(stores, day, shops.anchor)
        plan = deliveries(day, shops.anchor)
        echo(f"Replaying {len(plan)} orders to {config(app).public_url} over {seconds:g} s"
             + ("" if shops.created else " (a replay: they should all be duplicates)"))

        def report(p: Progress) -> None:
            echo("\r" + p.line(), nl=False)
            publish(app, {"stage": "replaying", "line": p.line(), "sent": p.sent, "total": p.total})

        replay(app, shops, stores, plan, seconds, report)
        echo("")
        lines = summary(app, shops, stores)
        for line in lines:
            echo(line)
        echo(f"Sign in to the Shopify shop's desk: {link(shops.shopify_id)}")
        echo(f"Sign in to the WooCommerce shop's desk: {link(shops.woocommerce_id)}")
        publish(app, {"stage": "done", "summary": lines,
                       "shops": {"shopify": shops.shopify_id, "woocommerce": shops.woocommerce_id}})
        if serve:
            echo("The simulated stores keep serving (refunds you approve on the desk reach them). Ctrl-C to stop.")
            _serve_until_stopped(app)
        return 0
    except BaseException as exc:
        publish(app, {"stage": "failed", "error": str(exc) or type(exc).__name__})
        raise
    finally:
        stores.stop()
        _release(app)


def _release(app: Flask) -> None:
    with contextlib.suppress(Exception):  # Redis gone: the key expires by itself
        redis_conn(app).delete(START_KEY)


def _serve_until_stopped(app: Flask) -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(30)
        publish(app, {**_state(app), "serving_at": time.time()})


def _state(app: Flask) -> dict:
    raw = redis_conn(app).get(STATE_KEY)
    return json.loads(raw) if raw else {}
