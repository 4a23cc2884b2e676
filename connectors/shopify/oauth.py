"""Shopify's authorization-code grant for non-embedded installs, and expiring offline tokens.

Shopify signs the query string of its install and callback requests: hex HMAC-SHA256 of the sorted
`key=value` pairs (without `hmac`), keyed with the app's client secret. Offline tokens are requested as
expiring (`expiring=1`): they last an hour and come with a refresh token that rotates on every use.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import requests

from connectors.http import PlatformError, Refused, Retry, send

SCOPES = "read_orders,write_orders,read_fulfillments,read_customers,write_discounts"


def query_hmac_ok(args: dict[str, str], secret: str) -> bool:
    given = args.get("hmac", "")
    message = "&".join(f"{k}={v}" for k, v in sorted(args.items()) if k not in ("hmac", "signature"))
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return bool(given) and hmac.compare_digest(expected, given.lower())


def authorize_url(shop_base: str, api_key: str, redirect_uri: str, state: str, scopes: str = SCOPES) -> str:
    return f"{shop_base}/admin/oauth/authorize?" + urlencode(
        {"client_id": api_key, "scope": scopes, "redirect_uri": redirect_uri, "state": state})


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: str | None

    def credentials(self) -> dict:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None, "scope": self.scope}


def _token_request(shop_base: str, body: dict, retry: Retry | None) -> Tokens:
    resp = send(requests.Session(), "POST", f"{shop_base}/admin/oauth/access_token", retry or Retry(attempts=3),
                json=body, headers={"Accept": "application/json"})
    if resp.status_code != 200:
        raise Refused(f"Shopify refused the token request (HTTP {resp.status_code})", status=resp.status_code)
    try:
        data = resp.json()
        expires_in = data.get("expires_in")
        return Tokens(access_token=data["access_token"], refresh_token=data.get("refresh_token"),
                      expires_at=datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in else None,
                      scope=data.get("scope"))
    except (ValueError, KeyError, TypeError) as exc:
        raise PlatformError("Shopify's token answer could not be read", retryable=True) from exc


def exchange_code(shop_base: str, code: str, api_key: str, api_secret: str, retry: Retry | None = None) -> Tokens:
    return _token_request(shop_base, {"client_id": api_key, "client_secret": api_secret, "code": code,
                                      "expiring": 1}, retry)


def refresh(shop_base: str, refresh_token: str, api_key: str, api_secret: str, retry: Retry | None = None) -> Tokens:
    return _token_request(shop_base, {"client_id": api_key, "client_secret": api_secret,
                                      "grant_type": "refresh_token", "refresh_token": refresh_token}, retry)
