"""Webhook intake: verify the raw bytes, store in the inbox, acknowledge, then let a job do the rest."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

import connectors
from connectors.base import PayloadError, hmac_sha256_b64_matches, json_object
from plugin.extensions import config, db, redis_conn
from plugin.intake import inbox
from plugin.storage.shop_secrets import ShopSecrets
from plugin.vocabulary import Platform

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

WC_PING = re.compile(rb"^webhook_id=\d+$")


def _answer(status: int, message: str, **extra) -> Response:
    resp = jsonify({"status": message, **extra})
    resp.status_code = status
    return resp


def _read_body() -> bytes | Response:
    limit = config(current_app).max_webhook_bytes
    if request.content_length is not None and request.content_length > limit:
        return _answer(413, "body larger than 5 MiB")
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _answer(413, "body larger than 5 MiB")
    if len(body) > limit:
        return _answer(413, "body larger than 5 MiB")
    return body


def _refusal(body: bytes) -> Response | None:
    """400 with the reason when a verified body is not a JSON object the worker can read; else None."""
    try:
        json_object(body)
    except PayloadError as exc:
        return _answer(400, str(exc))
    return None


def _enqueue_after_commit() -> None:
    try:
        from plugin.storage.queue import request_drain

        request_drain(redis_conn(current_app))
    except Exception:
        # Stored is safe: the sweep re-enqueues inbox rows a lost enqueue left behind.
        log.warning("could not enqueue the inbox drain; the sweep will pick the delivery up", exc_info=True)


def _shops() -> ShopSecrets:
    return current_app.extensions["redress.shop_secrets"]


def _accept(shop_id, platform, topic, key, body) -> Response:
    try:
        fresh = inbox.store(db(current_app).engine, shop_id=shop_id, platform=platform, topic=topic, key=key,
                            body=body, now=datetime.now(UTC))
    except (OperationalError, DBAPIError):
        log.error("database unavailable: delivery refused with 503 so the platform retries", exc_info=True)
        return _answer(503, "database unavailable, retry later")
    if not fresh:
        return _answer(200, "duplicate")
    _enqueue_after_commit()
    return _answer(200, "accepted")


@bp.post("/shopify")
def shopify():
    body = _read_body()
    if not isinstance(body, bytes):
        return body
    h = request.headers
    signature = h.get("X-Shopify-Hmac-Sha256")
    if not signature:
        return _answer(401, "missing X-Shopify-Hmac-Sha256")
    domain = (h.get("X-Shopify-Shop-Domain") or "").strip().lower()
    app_secret = config(current_app).shopify_api_secret
    try:
        shop = _shops().get(Platform.SHOPIFY, domain=domain) if domain else None
    except (OperationalError, DBAPIError):
        return _answer(503, "database unavailable, retry later")
    shop_id = shop.id if shop else None
    secrets = [shop.webhook_secret] if shop and shop.webhook_secret else [app_secret or ""]
    if not hmac_sha256_b64_matches(body, signature, secrets):
        return _answer(401, "invalid HMAC signature")
    conn = connectors.get(Platform.SHOPIFY)
    topic = conn.topic(h)
    key = conn.delivery_key(h, body)
    if not topic or not key or not domain:
        return _answer(400, "missing X-Shopify-Topic, X-Shopify-Webhook-Id or X-Shopify-Shop-Domain")
    if (refused := _refusal(body)) is not None:
        return refused
    return _accept(shop_id, Platform.SHOPIFY, topic, key, body)


@bp.post("/woocommerce/<int:shop_id>")
def woocommerce(shop_id: int):
    body = _read_body()
    if not isinstance(body, bytes):
        return body
    try:
        shop = _shops().get(Platform.WOOCOMMERCE, shop_id=shop_id)
    except (OperationalError, DBAPIError):
        return _answer(503, "database unavailable, retry later")
    if shop is None:
        return _answer(404, "unknown shop")
    h = request.headers
    signature = h.get("X-WC-Webhook-Signature")
    if not signature and not h.get("X-WC-Webhook-Topic") and WC_PING.match(body.strip()):
        # WooCommerce pings once, unsigned, when a webhook is created; anything but 200 disables it.
        return _answer(200, "ping")
    if not signature:
        return _answer(401, "missing X-WC-Webhook-Signature")
    if not hmac_sha256_b64_matches(body, signature, [shop.webhook_secret or ""]):
        return _answer(401, "invalid signature")
    conn = connectors.get(Platform.WOOCOMMERCE)
    topic = conn.topic(h)
    if not topic:
        return _answer(400, "missing X-WC-Webhook-Topic")
    if (refused := _refusal(body)) is not None:
        return refused
    return _accept(shop_id, Platform.WOOCOMMERCE, topic, conn.delivery_key(h, body), body)
