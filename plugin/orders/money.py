"""Money as decimal strings in the order's currency (ISO 4217 minor units)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                "VUV", "XAF", "XOF", "XPF"}
THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}


def minor_units(currency: str | None) -> int:
    code = (currency or "").upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def in_units(amount: Decimal, currency: str | None) -> Decimal:
    """The amount in the currency's smallest unit (cents, yen), rounded half up."""
    return Decimal(amount).quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def fmt(amount: Decimal | None, currency: str | None) -> str | None:
    return None if amount is None else str(in_units(amount, currency))
