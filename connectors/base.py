"""The one small interface every platform connector offers, and helpers they share."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from plugin.orders.facts import Change, LineItem, ShopEvent
from plugin.vocabulary import CompensationAction

if TYPE_CHECKING:
    from connectors.http import Retry


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
    action: CompensationAction
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


class Headers(Protocol):
    """A delivery's HTTP headers, as the web layer looks them up (case-insensitively)."""

    def get(self, key: str, /) -> str | None: ...


class Connector(Protocol):
    """Everything Redress calls on a platform. Each platform's package (`connectors.shopify`,
    `connectors.woocommerce`) is a module that offers it."""

    @property
    def name(self) -> str: ...

    @property
    def signature_header(self) -> str: ...

    @property
    def webhook_topics(self) -> tuple[str, ...]:
        """The topics Redress subscribes, in the platform's words."""

    # -- webhooks: a delivery's identity, and what it says
    def delivery_key(self, headers: Headers, body: bytes) -> str | None: ...

    def topic(self, headers: Headers) -> str | None: ...

    def normalize(self, topic: str, payload: dict[str, Any], received_at: datetime) -> list[Change]: ...

    def shop_event(self, topic: str, payload: dict[str, Any]) -> ShopEvent | None: ...

    # -- the store's API
    def fetch_changed(self, access: ShopAccess, since: datetime, cursor: str | None,
                      retry: Retry | None = None) -> FetchedPage: ...

    def issue(self, access: ShopAccess, request: CompensationRequest, retry: Retry | None = None) -> str: ...

    def find_issued(self, access: ShopAccess, request: CompensationRequest,
                    retry: Retry | None = None) -> str | None: ...

    def subscribe_webhooks(self, access: ShopAccess, callback_url: str, secret: str | None = None,
                           retry: Retry | None = None) -> list[str]: ...

    def check_access(self, access: ShopAccess, retry: Retry | None = None) -> None:
        """One cheap read; raises PlatformError with the platform's reason when the credentials do not work."""

    def list_webhooks(self, access: ShopAccess, retry: Retry | None = None) -> list[Webhook]: ...

    def refresh_credentials(self, access: ShopAccess, api_key: str, api_secret: str,
                            shop_url: str = "https://{shop}") -> dict[str, str]:
        """Fresh credentials for ones that expire (`expires_at` in them), to merge over the stored ones."""


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


# Bounds of what a real order can carry; anything beyond is refused with a PayloadError, never stored.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
MAX_AMOUNT = Decimal(10) ** 14  # the money columns hold 14 digits before the point
MAX_ID_CHARS = 32  # platform ids are at most 20 digits; idempotency keys and columns embed them


def short(value: Any, limit: int = 60) -> str:
    """A value quoted in an error message, cut short: a hostile payload may be megabytes long."""
    r = repr(value)
    return r if len(r) <= limit else r[:limit] + "…"


def text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise PayloadError(f"expected a scalar, got {type(value).__name__}")
    s = value if isinstance(value, str) else str(value)
    if "\x00" in s:
        raise PayloadError(f"text with a NUL character: {short(s)}")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"text that is not valid Unicode (a lone surrogate): {short(s)}") from None
    return s


def money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, (bool, dict, list)):
        raise PayloadError(f"not an amount: {short(value)}")
    try:
        amount = Decimal(value if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError) as exc:
        raise PayloadError(f"not an amount: {short(value)}") from exc
    # By exponent, not by abs(): arithmetic on 1e999999999 overflows the decimal context.
    if not amount.is_finite() or (amount and amount.adjusted() >= MAX_AMOUNT.adjusted()):
        raise PayloadError(f"not an amount: {short(value)}")
    if amount.as_tuple().exponent < -4:  # type: ignore[operator]
        amount = amount.quantize(Decimal("0.0001"))  # what the money columns keep
    return amount


def when(value: Any, naive_is_utc: bool = True) -> datetime | None:
    """Parse an ISO 8601 time; naive values are UTC (WooCommerce's *_gmt fields)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"not a time: {short(value)}")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            if not naive_is_utc:
                raise PayloadError(f"time without offset: {short(value)}")
            dt = dt.replace(tzinfo=UTC)
        return plausible(dt.astimezone(UTC), value)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"not a time: {short(value)}") from exc


def unix_time(value: Any) -> datetime:
    """Seconds since 1970 (a number or a string of digits), as some extensions store times."""
    try:
        return plausible(datetime.fromtimestamp(int(value), UTC), value)
    except (ValueError, OverflowError, OSError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"not a time: {short(value)}") from exc


def currency(value: Any) -> str | None:
    code = text(value)
    if code is not None and not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise PayloadError(f"not a currency code: {short(code)}")
    return code


def plausible(dt: datetime, raw: Any) -> datetime:
    if not EARLIEST <= dt < LATEST:
        raise PayloadError(f"time out of range: {short(raw)}")
    return dt


MAX_DEPTH = 64  # real orders nest about 6 deep; deeper is refused before any recursive code sees it


def _no_constant(name: str) -> Any:
    raise PayloadError(f"body uses {name}, which JSON does not allow")


def json_object(body: bytes) -> dict[str, Any]:
    """A delivery's body as a JSON object, or a PayloadError saying plainly what is wrong with it."""
    try:
        # Decoded as UTF-8 here: json.loads would guess UTF-16 or UTF-32 from the first bytes.
        payload = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 text") from None
    except RecursionError:
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels") from None
    except PayloadError:
        raise
    except ValueError as exc:  # also an integer too long to convert
        raise PayloadError(f"body is not valid JSON ({short(str(exc), 80)})") from None
    if not isinstance(payload, dict):
        raise PayloadError(f"body is {json_kind(payload)}, not a JSON object")
    if _depth(payload) > MAX_DEPTH:
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels")
    return payload


def _depth(value: Any) -> int:
    """How deep containers nest (up to one past MAX_DEPTH), a level at a time: no recursion, and only
    containers are visited, so this stays a fraction of what parsing the body costs."""
    level, deepest = [value], 1
    while True:
        level = [c for v in level for c in (v.values() if isinstance(v, dict) else v) if isinstance(c, (dict, list))]
        if not level or deepest > MAX_DEPTH:
            return deepest
        deepest += 1


def quantity(value: Any) -> int:
    """A line's quantity: a whole number (1 when the platform leaves it out)."""
    if value is None or value == "":
        return 1
    written = str(value).strip()
    if isinstance(value, bool) or not isinstance(value, int | str) or not (written.isascii() and written.isdigit()) \
            or len(written) > 9:  # a billion of one thing is not an order
        raise PayloadError(f"not a quantity: {short(value)}")
    return int(written)


def line_item(sku: Any, title: Any, qty: Any) -> LineItem:
    name = text(title) or ""
    return LineItem(sku=(text(sku) or "").strip()[:100] or None, title=html.unescape(name).strip()[:300],
                    quantity=quantity(qty))


def country_code(value: Any) -> str | None:
    """An ISO 3166 country code, upper case; anything else is no country."""
    code = (text(value) or "").strip().upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


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
    found = None if isinstance(value, (bool, dict, list)) else text(value)
    if found is None or found.strip() == "":
        raise PayloadError(f"payload has no {key}")
    if len(found) > MAX_ID_CHARS:
        raise PayloadError(f"{key} is longer than {MAX_ID_CHARS} characters: {short(found)}")
    return found
