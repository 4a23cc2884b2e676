"""Installing Redress: Shopify's authorization-code grant and WooCommerce's /wc-auth key handshake."""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, render_template, request
from itsdangerous import BadSignature
from sqlalchemy.exc import OperationalError

from connectors.http import PlatformError
from connectors.shopify import valid_shop_domain
from connectors.shopify.oauth import authorize_url, exchange_code, query_hmac_ok
from plugin.extensions import config, db, redis_conn, signer, vault
from plugin.shops.connect import ShopError, check_email, check_store_url, connect_woocommerce_keys, install_shopify
from plugin.storage.queue import SUBSCRIBE, enqueue
from plugin.web import auth

log = logging.getLogger(__name__)
bp = Blueprint("install", __name__)
STATE_COOKIE = "redress_shopify_state"
STATE_SECONDS = 600
INSTALL_LINK_SECONDS = 86400


def _refuse(message: str, status: int = 400) -> Response:
    return Response(render_template("install_error.html", message=message), status)


def enqueue_subscribe(shop_id: int) -> None:
    try:
        enqueue(redis_conn(current_app), SUBSCRIBE, shop_id, job_id=f"subscribe-{shop_id}")
    except Exception:
        log.warning("could not enqueue the webhook subscription of shop %s; run `redress shops subscribe %s`",
                    shop_id, shop_id, exc_info=True)


def _checked_shop_request() -> tuple[str, dict] | Response:
    cfg = config(current_app)
    if not (cfg.shopify_api_key and cfg.shopify_api_secret):
        return _refuse("This Redress has no Shopify app credentials (SHOPIFY_API_KEY, SHOPIFY_API_SECRET).", 503)
    args = request.args.to_dict()
    shop = (args.get("shop") or "").strip().lower()
    if not valid_shop_domain(shop):
        return _refuse("The shop address must be a store like my-store.myshopify.com.")
    if not query_hmac_ok(args, cfg.shopify_api_secret):
        return _refuse("This request was not signed by Shopify.")
    try:
        age = time.time() - int(args.get("timestamp", "0"))
    except ValueError:
        age = float("inf")
    if not -300 < age < INSTALL_LINK_SECONDS:
        return _refuse("This install link has expired; start the install again from Shopify.")
    return shop, args


@bp.get("/auth/shopify")
def shopify_begin():
    checked = _checked_shop_request()
    if isinstance(checked, Response):
        return checked
    shop, _ = checked
    cfg = config(current_app)
    state = secrets.token_urlsafe(24)
    target = authorize_url(cfg.shopify_shop_url.format(shop=shop), cfg.shopify_api_key or "",
                           f"{cfg.public_url}/auth/shopify/callback", state)
    resp = redirect(target)
    # The nonce is bound to this browser: the callback must come back with the same state and cookie.
    resp.set_cookie(STATE_COOKIE, signer(current_app, "shopify-state").dumps({"shop": shop, "state": state}),
                    max_age=STATE_SECONDS, httponly=True, secure=cfg.public_url.startswith("https://"),
                    samesite="Lax")
    return resp


@bp.get("/auth/shopify/callback")
def shopify_callback():
    checked = _checked_shop_request()
    if isinstance(checked, Response):
        return checked
    shop, args = checked
    try:
        saved = signer(current_app, "shopify-state").loads(request.cookies.get(STATE_COOKIE, ""), max_age=STATE_SECONDS)
    except BadSignature:
        return _refuse("This install did not start here, or took too long; start it again from Shopify.")
    if saved.get("shop") != shop or not secrets.compare_digest(saved.get("state", ""), args.get("state", "")):
        return _refuse("This install did not start here; start it again from Shopify.")
    cfg = config(current_app)
    try:
        tokens = exchange_code(cfg.shopify_shop_url.format(shop=shop), args.get("code", ""),
                               cfg.shopify_api_key or "", cfg.shopify_api_secret or "", retry=cfg.platform_retry())
    except PlatformError as exc:
        log.warning("token exchange for %s failed: %s", shop, exc)
        return _refuse("Shopify did not give Redress access; please try the install again.", 502)
    try:
        with db(current_app).session() as s:
            record = install_shopify(s, vault(current_app), cfg, domain=shop, credentials=tokens.credentials())
            s.commit()
            shop_id = record.id
    except OperationalError:
        return _refuse("Redress cannot reach its database right now; please try again in a minute.", 503)
    enqueue_subscribe(shop_id)
    auth.sign_in(shop_id)  # Shopify just vouched for this merchant: take them to their settings
    resp = Response(render_template("installed.html", shop=shop, platform="Shopify"))
    resp.delete_cookie(STATE_COOKIE)
    return resp


@bp.get("/connect/woocommerce")
def woocommerce_connect():
    store_url = (request.args.get("store_url") or "").strip()
    if not store_url:
        return render_template("connect_woocommerce.html", error=None, store_url="")
    cfg = config(current_app)
    try:
        base = check_store_url(store_url, cfg.allow_private_stores)
    except ShopError as exc:
        return Response(render_template("connect_woocommerce.html", error=str(exc), store_url=store_url), 400)
    # user_id travels to the store and back in the key callback: signed, it proves which store we asked.
    email = (request.args.get("email") or "").strip().lower() or None
    try:
        check_email(email)
    except ShopError as exc:
        return Response(render_template("connect_woocommerce.html", error=str(exc), store_url=store_url), 400)
    ticket = signer(current_app, "wc-connect").dumps({"store": base, "email": email})
    return redirect(f"{base}/wc-auth/v1/authorize?" + urlencode({
        "app_name": "Redress", "scope": "read_write", "user_id": ticket,
        "return_url": f"{cfg.public_url}/connect/woocommerce/done",
        "callback_url": f"{cfg.public_url}/connect/woocommerce/callback"}))


@bp.post("/connect/woocommerce/callback")
def woocommerce_callback():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return Response("expected the JSON key callback", 400)
    try:
        ticket = signer(current_app, "wc-connect").loads(str(data.get("user_id", "")), max_age=INSTALL_LINK_SECONDS)
    except BadSignature:
        return Response("unknown or expired connection", 400)
    key, secret = data.get("consumer_key"), data.get("consumer_secret")
    if not (isinstance(key, str) and isinstance(secret, str) and key and secret):
        return Response("keys missing", 400)
    if data.get("key_permissions") not in (None, "read_write"):
        return Response("Redress needs read_write keys", 400)
    cfg = config(current_app)
    try:
        with db(current_app).session() as s:
            shop = connect_woocommerce_keys(s, vault(current_app), cfg, url=ticket["store"], key=key, secret=secret,
                                            owner_email=ticket.get("email"))
            s.commit()
            shop_id = shop.id
    except ShopError as exc:
        return Response(str(exc), 400)
    except OperationalError:
        return Response("database unavailable", 503)
    enqueue_subscribe(shop_id)
    return Response("", 200)  # exactly 200, or WooCommerce deletes the key


@bp.get("/connect/woocommerce/done")
def woocommerce_done():
    if request.args.get("success") == "0":
        return _refuse("The store did not grant access. You can start again whenever you like.")
    return render_template("installed.html", shop=None, platform="WooCommerce")
