"""The JSON API (`/api/v1`), authenticated with the shop's API token: its incidents, what the team does with
them, its analytics and its crises. Another shop's ids answer 404, like ids that do not exist."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select

from plugin.analytics.ranges import RangeError, date_range
from plugin.analytics.report import report
from plugin.crises.presentation import crisis_json, list_crises
from plugin.desk.queries import FilterError, find, parse_filters
from plugin.extensions import config
from plugin.incidents.presentation import compensation_json, incident_json
from plugin.messages.links import status_url
from plugin.storage.crypto import hash_token
from plugin.storage.models import Crisis, Incident, Shop
from plugin.web import auth
from plugin.web.analytics import csv_response
from plugin.web.operations import (
    OperationError,
    crisis_compensate,
    crisis_update,
    on_compensation,
    on_incident,
    owned,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
WHO = "the API"


def _error(message: str, status: int, **headers: str):
    return jsonify({"error": message}), status, headers


def token_required(view):
    """The shop whose API token the request carries, in g.shop; 401 without one."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or not given[7:].strip():
            return _error("missing bearer token", 401, **{"WWW-Authenticate": "Bearer"})
        shop = auth.g_session().execute(
            select(Shop).where(Shop.api_token_hash == hash_token(given[7:].strip()))).scalar_one_or_none()
        if shop is None or not shop.active:
            return _error("invalid token", 401, **{"WWW-Authenticate": "Bearer"})
        g.shop = shop
        try:
            return view(*args, **kwargs)
        except OperationError as exc:
            return _error(str(exc), exc.status)
    return wrapper


def _body(optional: bool = False) -> dict[str, Any]:
    if optional and not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise OperationError("the body must be a JSON object")
    return data


def _link(incident_id: int) -> str:
    return status_url(current_app, incident_id)


@bp.get("/incidents")
@token_required
def incidents():
    try:
        f = parse_filters(request.args, datetime.now(UTC).date())
    except FilterError as exc:
        return _error(str(exc), 400)
    page = find(auth.g_session(), g.shop.id, f)
    out = jsonify([incident_json(i, _link) for i in page.incidents])
    if page.next_cursor is not None:
        cursor = "before_id" if f.sort == "newest" else "after_id"
        # From the public address: behind a TLS-terminating router the request itself says http.
        path = url_for("api.incidents") + "?" + urlencode(f.query(**{cursor: str(page.next_cursor)}))
        nxt = config(current_app).public_url + path
        out.headers["Link"] = f'<{nxt}>; rel="next"'
    return out


@bp.get("/incidents/<int:incident_id>")
@token_required
def incident(incident_id: int):
    return jsonify(incident_json(owned(auth.g_session(), Incident, g.shop, incident_id), _link))


@bp.post("/incidents/<int:incident_id>/<action>")
@token_required
def act(incident_id: int, action: str):
    s = auth.g_session()
    data = _body(optional=action in ("resolve", "dismiss"))
    inc = on_incident(s, g.shop, incident_id, action, data, WHO)
    status = 201 if action in ("notes", "messages") else 200
    return jsonify(incident_json(s.get(Incident, inc.id), _link)), status


@bp.post("/compensations/<int:compensation_id>/<decision>")
@token_required
def decide(compensation_id: int, decision: str):
    comp = on_compensation(auth.g_session(), g.shop, compensation_id, decision)
    return jsonify(compensation_json(comp))


def _range():
    try:
        return date_range(request.args.get("from"), request.args.get("to"), datetime.now(UTC).date())
    except RangeError as exc:
        raise OperationError(str(exc)) from None


@bp.get("/analytics")
@token_required
def analytics():
    start, end = _range()
    return jsonify(report(auth.g_session(), g.shop, start, end, datetime.now(UTC)))


@bp.get("/analytics.csv")
@token_required
def analytics_csv() -> Response:
    start, end = _range()
    return csv_response(auth.g_session(), g.shop, start, end)


@bp.get("/crises")
@token_required
def crises():
    return jsonify(list_crises(auth.g_session(), shop_id=g.shop.id))


@bp.post("/crises/<int:crisis_id>/updates")
@token_required
def crisis_updates(crisis_id: int):
    data = _body()
    send = data.get("send_to_customers", False)
    if not isinstance(send, bool):
        raise OperationError("send_to_customers must be true or false")
    texts = data.get("texts")
    if texts is not None and not isinstance(texts, dict):
        raise OperationError('texts must be an object of words per language, e.g. {"es": "…"}')
    sent = crisis_update(auth.g_session(), g.shop, crisis_id, data.get("text"), data.get("status"), send, texts)
    return jsonify({**crisis_json(auth.g_session().get(Crisis, crisis_id)), "sent_to": sent}), 201


@bp.post("/crises/<int:crisis_id>/compensate")
@token_required
def crisis_compensation(crisis_id: int):
    planned = crisis_compensate(auth.g_session(), g.shop, crisis_id, _body())
    return jsonify({"planned": [compensation_json(c) for c in planned]}), 201
