"""Who is signed in: a shop, in the session cookie. Merchants sign in with one-time links.

A link carries a signed, time-limited ticket naming the shop and a nonce; the nonce is spent in Redis on
first use, so a link forwarded or replayed later does nothing. A Shopify install signs its shop in too.
"""

from __future__ import annotations

import functools
import secrets

from flask import abort, current_app, g, request, session
from itsdangerous import BadSignature, SignatureExpired

from plugin.extensions import config, db, redis_conn, signer
from plugin.storage.models import Shop

LINK_SECONDS = 3600


def login_link(shop_id: int) -> str:
    ticket = signer(current_app, "login-link").dumps({"shop": shop_id, "nonce": secrets.token_urlsafe(16)})
    return f"{config(current_app).public_url}/login/{ticket}"


class LinkRefused(Exception):
    """A sign-in link that does not sign in; `reason` is "used", "expired" or "invalid"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def redeem(ticket: str) -> int:
    """The shop the link signs in; spends the link."""
    try:
        data = signer(current_app, "login-link").loads(ticket, max_age=LINK_SECONDS)
    except SignatureExpired:
        raise LinkRefused("expired") from None
    except BadSignature:
        raise LinkRefused("invalid") from None
    if not redis_conn(current_app).set(f"redress:login:{data['nonce']}", "1", nx=True, ex=LINK_SECONDS + 60):
        raise LinkRefused("used")
    return int(data["shop"])


def sign_in(shop_id: int) -> None:
    session.clear()
    session["shop_id"] = shop_id
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True


def g_session():
    """This request's database session (closed when the request ends)."""
    if g.get("db_session") is None:
        g.db_session = db(current_app).sessions()
    return g.db_session


def current_shop() -> Shop | None:
    shop_id = session.get("shop_id")
    if shop_id is None:
        return None
    shop = g_session().get(Shop, shop_id)
    return shop if shop is not None and shop.active else None


def require_shop(view):
    """Pages for a signed-in shop only: anyone else gets 401."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        shop = current_shop()
        if shop is None:
            abort(401)
        g.shop = shop
        return view(*args, **kwargs)
    return wrapper


def check_csrf() -> None:
    token = request.form.get("csrf", "")
    # Compared as bytes: a forged field with non-ASCII characters is refused like any other, not an error.
    if not session.get("csrf") or not secrets.compare_digest(token.encode(), session["csrf"].encode()):
        abort(400, "This form has expired; reload the page and try again.")
