"""The one small interface every platform connector offers, and helpers they share."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from plugin.facts import Change, ShopEvent


class PayloadError(ValueError):
    """A delivery that verified but cannot be understood."""


@dataclass(frozen=True)
class ShopAccess:
    """What a connector needs to call a shop's API (credentials already decrypted)."""

    domain: str
    credentials: dict[str, Any]
    admin_url: str | None = None
    api_version: str = "2026-04"


@dataclass(frozen=True)
class CompensationRequest:
    """One refund or coupon to make, carrying the idempotency key that makes it happen once."""

    key: str
    action: str  # refund_shipping | refund_amount | refund_percent | coupon_percent | coupon_amount
    order_id: str
    currency: str
    starts_at: datetime
    amount: Decimal | None = None
    percent: Decimal | None = None
    code: str | None = None
    valid_days: int | None = None
    customer_id: str | None = None
    customer_email: str | None = None
    note: str = ""


@dataclass
class FetchedPage:
    """Orders fetched by reconciliation, as (topic, body, delivery key) for the inbox."""

    deliveries: list[tuple[str, bytes, str]]
    next_cursor: str | None
    # True when the page may repeat orders an earlier page of the pass returned (the connector then checks
    # its own progress); otherwise a page that brings nothing new means the store is going round in circles.
    rereads: bool = False


@dataclass(frozen=True)
class Webhook:
    """A webhook the store has for us: its topic in the platform's words, where it goes, and whether it is on."""

    topic: str
    url: str
    active: bool = True


class Connector(Protocol):
    name: str
    signature_header: str

    def delivery_key(self, headers: dict[str, str], body: bytes) -> str | None: ...

    def topic(self, headers: dict[str, str]) -> str | None: ...

    def normalize(self, topic: str, payload: dict[str, Any], received_at: datetime) -> list[Change]: ...

    def shop_event(self, topic: str, payload: dict[str, Any]) -> ShopEvent | None: ...

    def fetch_changed(self, access: ShopAccess, since: datetime, cursor: str | None, retry=None) -> FetchedPage: ...

    def issue(self, access: ShopAccess, request: CompensationRequest, retry=None) -> str: ...

    def find_issued(self, access: ShopAccess, request: CompensationRequest, retry=None) -> str | None: ...

    def subscribe_webhooks(self, access: ShopAccess, callback_url: str, secret: str | None = None,
                           retry=None) -> list[str]: ...

    webhook_topics: tuple[str, ...]  # the topics Redress subscribes, in the platform's words

    def check_access(self, access: ShopAccess, retry=None) -> None:
        """One cheap read; raises PlatformError with the platform's reason when the credentials do not work."""

    def list_webhooks(self, access: ShopAccess, retry=None) -> list[Webhook]: ...


def hmac_sha256_b64_matches(body: bytes, signature: str | None, secrets: list[str]) -> bool:
    """base64(HMAC-SHA256(raw body)) compared in constant time against each candidate secret."""
    if not signature:
        return False
    given = signature.strip().encode()
    ok = False
    for secret in secrets:
        if not secret:
            continue
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        ok |= hmac.compare_digest(digest, given)
    return ok


def json_kind(value: Any) -> str:
    """What a JSON value is, in the words of JSON, for messages about a store's answer."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    for kind, name in ((dict, "an object"), (list, "a list"), (str, "a string"), ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return "something else"


def text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise PayloadError(f"expected a scalar, got {type(value).__name__}")
    return str(value)


def money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, (bool, dict, list)):
        raise PayloadError(f"not an amount: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise PayloadError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise PayloadError(f"not an amount: {value!r}")
    return amount


def when(value: Any, naive_is_utc: bool = True) -> datetime | None:
    """Parse an ISO 8601 time; naive values are UTC (WooCommerce's *_gmt fields)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"not a time: {value!r}")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadError(f"not a time: {value!r}") from exc
    if dt.tzinfo is None:
        if not naive_is_utc:
            raise PayloadError(f"time without offset: {value!r}")
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def obj(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{what} should be an object")
    return value


def items(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{what} should be a list")
    return value


def required_id(payload: dict[str, Any], key: str = "id") -> str:
    value = payload.get(key)
    if value is None or isinstance(value, (bool, dict, list)) or str(value).strip() == "":
        raise PayloadError(f"payload has no {key}")
    return str(value)
