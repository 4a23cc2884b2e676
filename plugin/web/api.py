"""GET /api/v1/incidents: one shop's incidents, authenticated with the shop's API token."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from plugin.extensions import db
from plugin.incidents.presentation import list_incidents
from plugin.messages.links import status_url
from plugin.storage.crypto import hash_token
from plugin.storage.models import Shop
from plugin.vocabulary import IncidentStatus, values

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/incidents")
def incidents():
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return jsonify({"error": "missing bearer token"}), 401, {"WWW-Authenticate": "Bearer"}
    status = request.args.get("status")
    if status is not None and status not in values(IncidentStatus):
        return jsonify({"error": f"status must be one of {', '.join(values(IncidentStatus))}"}), 400
    with db(current_app).session() as s:
        shop = s.execute(select(Shop).where(Shop.api_token_hash == hash_token(auth[7:].strip()))).scalar_one_or_none()
        if shop is None:
            return jsonify({"error": "invalid token"}), 401, {"WWW-Authenticate": "Bearer"}
        return jsonify(list_incidents(s, shop_id=shop.id, status=status,
                                      link=lambda i: status_url(current_app, i)))
