"""Which language a customer is written to in: the order's own (what the store knew the customer read),
else the usual language of the country the parcel goes to, else the shop's first language. Only languages
Redress writes and the shop speaks are chosen.

Pure domain code.
"""

from __future__ import annotations

from collections.abc import Sequence

from plugin.vocabulary import Locale

# Where most customers read Spanish or English: the countries of Latin America, Spain and Equatorial Guinea;
# the English-speaking ones Redress's shops sell to most. Elsewhere the shop's first language decides.
COUNTRY_LANGUAGE: dict[str, Locale] = {
    **{c: Locale.ES for c in ("ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO", "DO", "HN",
                              "PY", "SV", "NI", "CR", "PA", "UY", "PR", "GQ")},
    **{c: Locale.EN for c in ("US", "GB", "IE", "AU", "NZ", "CA", "ZA", "SG", "JM", "TT", "BZ", "BS", "BB")},
}


def supported(tag: str | None) -> Locale | None:
    """`es-MX`, `es_ES`, `ES` → es; a language Redress does not write → None."""
    if not tag:
        return None
    base = tag.strip().replace("_", "-").split("-")[0].lower()
    return Locale(base) if base in Locale.__members__.values() else None


def choose(order_locale: str | None, country: str | None, shop_languages: Sequence[str]) -> Locale:
    spoken = [lang for lang in (supported(x) for x in shop_languages) if lang] or [Locale.EN]
    for candidate in (supported(order_locale), COUNTRY_LANGUAGE.get((country or "").strip().upper())):
        if candidate in spoken:
            return candidate
    return spoken[0]
