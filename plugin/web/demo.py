"""The front page's demo: on an instance with no shops of its own, a visitor starts `redress demo` in the
instance with one button, watches it run, and opens the demo shop's desk."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from werkzeug import Response

from plugin.demo.run import START_KEY, STATE_KEY, publish
from plugin.demo.shops import any_real_shop, is_demo
from plugin.extensions import config, redis_conn
from plugin.storage.models import Shop
from plugin.web.auth import check_csrf, g_session, sign_in

bp = Blueprint("demo", __name__)
START_SECONDS = 600
QUIET_SECONDS = 300  # longer than a running demo is silent: one delivery retried through an outage


def offered() -> bool:
    """The demo is offered while the instance has no shop but the demo's own (never beside real shops),
    unless the operator turned it off (REDRESS_DEMO=off)."""
    return config(current_app).demo and not any_real_shop(g_session())


def state() -> dict[str, Any]:
    """What the demo last said. One that went quiet while running died (killed, or it failed before it could
    say so): it is shown as failed, and the button is offered again."""
    conn = redis_conn(current_app)
    raw = conn.get(STATE_KEY)
    now = json.loads(raw) if raw else {}
    if now.get("stage") in ("starting", "replaying") and time.time() - float(now.get("at") or 0) > QUIET_SECONDS:
        conn.delete(START_KEY)
        return {"stage": "failed", "error": f"The demo stopped without a word for {QUIET_SECONDS} s; what it "
                                            f"wrote is in {config(current_app).instance_dir / 'demo.log'}."}
    return now


def csrf_token() -> str:
    if not session.get("csrf"):
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _lang() -> str:
    return request.accept_languages.best_match(["en", "es"]) or "en"


def _spawn() -> None:
    cfg = config(current_app)
    cfg.instance_dir.mkdir(parents=True, exist_ok=True)
    log = open(cfg.instance_dir / "demo.log", "ab")  # noqa: SIM115 - the child keeps writing to it
    # In this process group: stopping the web process (Ctrl-C on `redress run`) stops the demo's stores too.
    seconds = os.environ.get("REDRESS_DEMO_SECONDS", "45")  # how long the button's replay takes to send
    subprocess.Popen([sys.executable, "-m", "plugin.cli", "demo", "--seconds", seconds], stdout=log,
                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                     env={**os.environ, "REDRESS_INSTANCE_DIR": str(cfg.instance_dir)})
    log.close()


@bp.post("/demo")
def start() -> Response:
    check_csrf()
    if not config(current_app).demo:
        abort(404)
    if not offered():
        abort(409, "This instance has shops of its own: the demo is only offered on an empty one.")
    conn = redis_conn(current_app)
    if state().get("stage") not in ("starting", "replaying", "done") and conn.set(START_KEY, "1", nx=True,
                                                                                  ex=START_SECONDS):
        publish(current_app, {"stage": "starting"})
        _spawn()
    return redirect(url_for("demo.watch"), 303)


@bp.get("/demo")
def watch() -> str:
    now = state()
    if not now:
        return redirect(url_for("health.index"))  # type: ignore[return-value]
    return render_template("demo.html", lang=_lang(), state=now, csrf=csrf_token())


@bp.post("/demo/desk/<platform>")
def open_desk(platform: str) -> Response:
    check_csrf()
    shop_id = (state().get("shops") or {}).get(platform)
    shop = g_session().get(Shop, shop_id) if isinstance(shop_id, int) else None
    if shop is None or not is_demo(shop) or not offered():
        abort(409, "The demo is not ready, or this instance has shops of its own.")
    sign_in(shop.id)
    return redirect(url_for("desk.incidents"), 303)
