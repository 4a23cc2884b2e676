"""GET /healthz: 200 when the database and Redis answer, else 503; and the front page."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request
from sqlalchemy import text

from plugin.extensions import db, redis_conn
from plugin.web import demo

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    checks = {}
    try:
        with db(current_app).session() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not healthy", whatever the driver raised
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        redis_conn(current_app).ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", "checks": checks}), 200 if ok else 503


@bp.get("/")
def index():
    lang = request.accept_languages.best_match(["en", "es"]) or "en"
    offer = demo.offered()
    return render_template("index.html", lang=lang, demo=offer and demo.state(),
                           csrf=demo.csrf_token() if offer else None)
