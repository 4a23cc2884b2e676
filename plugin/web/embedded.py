"""Redress inside the Shopify admin: Shopify-managed install, token exchange, and an ID token on every request.

The admin loads `/app` in an iframe with an App Bridge ID token (a one-minute JWT signed with the app's
secret). `shopifyapp` verifies it on every request, page loads and form posts alike: cookies are not used
inside the iframe. The first verified visit of a shop exchanges the ID token for an expiring offline token.
"""

from __future__ import annotations

import logging

import httpx
from flask import Blueprint, Response, current_app, g, request
from shopify_app import app_home_patch_id_token, token_exchange, verify_app_home_req
from shopify_app.types import AppConfig
from sqlalchemy import select

from plugin.extensions import config, vault
from plugin.shops.connect import install_shopify
from plugin.storage.models import Shop
from plugin.vocabulary import Platform
from plugin.web import auth
from plugin.web.install import enqueue_subscribe
from plugin.web.settings import _page, save_for_shop

log = logging.getLogger(__name__)
bp = Blueprint("embedded", __name__)
PATCH_PATH = "/app/patch-id-token"


def _app_config() -> AppConfig:
    cfg = config(current_app)
    return {"client_id": cfg.shopify_api_key or "", "client_secret": cfg.shopify_api_secret or "",
            "old_client_secret": None}


def _as_response(res) -> Response:
    return Response(res.body, res.status, headers=res.headers)


def _verify(id_token: str | None = None):
    headers = dict(request.headers)
    if id_token:
        headers["Authorization"] = f"Bearer {id_token}"  # a form post carries the token App Bridge gave it
    return verify_app_home_req({"method": request.method, "headers": headers, "url": request.url, "body": ""},
                               _app_config(), PATCH_PATH)


def _http_client() -> httpx.Client | None:
    cfg = config(current_app)
    if cfg.shopify_shop_url == "https://{shop}":
        return None

    def to_local(req: httpx.Request) -> None:  # local development: the shop's endpoints live elsewhere
        base = httpx.URL(cfg.shopify_shop_url.format(shop=req.url.host))
        req.url = base.copy_with(path=req.url.path, query=req.url.query)
    return httpx.Client(event_hooks={"request": [to_local]})


def _shop_for(result) -> Shop | None:
    domain = (result.id_token.claims.get("dest") or "").replace("https://", "").lower()
    s = auth.g_session()
    shop = s.execute(select(Shop).where(Shop.platform == Platform.SHOPIFY, Shop.domain == domain)).scalar_one_or_none()
    if shop is not None and shop.active and shop.credentials:
        return shop
    exchanged = token_exchange("offline", _app_config(), id_token=result.id_token, expiring=True,
                               http_client=_http_client())
    token = exchanged.access_token
    if not exchanged.ok or token is None:
        log.warning("token exchange for %s failed: %s", domain, exchanged.log)
        return None
    credentials = {"access_token": token.token, "refresh_token": token.refresh_token, "expires_at": token.expires,
                   "scope": token.scope}
    shop = install_shopify(s, vault(current_app), config(current_app), domain=domain, credentials=credentials)
    s.commit()
    enqueue_subscribe(shop.id)
    return shop


def embedded_context() -> dict:
    return {"api_key": config(current_app).shopify_api_key, "host": request.args.get("host", "")}


def admin_shop(id_token: str | None = None) -> Response | None:
    """Verify the request's ID token and put its shop in g.shop; a response to return when that fails."""
    result = _verify(id_token)
    if not result.ok:
        return _as_response(result.response)
    shop = _shop_for(result)
    if shop is None:
        return Response("Redress could not get access to this shop; please reinstall the app.", 502)
    g.shop = shop
    return None


@bp.get("/app")
def home():
    refused = admin_shop()
    if refused is not None:
        return refused
    return _page(g.shop.policy or {}, g.shop.timezone, embedded=embedded_context())


@bp.post("/app")
def save():
    refused = admin_shop(request.form.get("id_token"))
    if refused is not None:
        return refused
    return save_for_shop(request.form, embedded=embedded_context())


@bp.get(PATCH_PATH)
def patch_id_token():
    result = app_home_patch_id_token({"method": "GET", "headers": dict(request.headers), "url": request.url,
                                      "body": ""}, _app_config())
    return _as_response(result.response)
