"""A shop's terms for what it promises customers: its `communication` section and its business calendar (the
shop's time zone, days, hours and holidays), read from the stored policy. A policy saved under older rules
falls back to the defaults rather than leave a customer without a promise."""

from __future__ import annotations

import logging
import re
from typing import Any

from plugin.messages.communication import Communication, parse_communication
from plugin.orders.calendars import Calendar, CalendarError
from plugin.orders.timing import TimingPolicy
from plugin.storage.models import Shop
from plugin.vocabulary import Locale, values

log = logging.getLogger(__name__)


def _policy(shop: Shop) -> dict[str, Any]:
    return shop.policy if isinstance(shop.policy, dict) else {}


def communication_of(shop: Shop) -> Communication:
    comm, problems = parse_communication(_policy(shop).get("communication"))
    if problems:
        log.warning("shop %s has communication settings with problems (%s); using what is valid",
                    shop.id, "; ".join(problems))
    return comm


def calendar_of(shop: Shop) -> Calendar:
    timing = _policy(shop).get("timing")
    try:
        return TimingPolicy.build(shop.timezone, timing if isinstance(timing, dict) else None).calendar
    except CalendarError:
        log.warning("shop %s has an invalid timing policy; its promises use the default hours", shop.id)
    try:
        return Calendar.build(shop.timezone, {})
    except CalendarError:
        return Calendar()


def contact_of(shop: Shop) -> dict[str, str]:
    """The channels customers can reach the shop by: email, phone, whatsapp (the ones set, as typed)."""
    contact = _policy(shop).get("contact")
    if not isinstance(contact, dict):
        return {}
    return {k: v.strip() for k, v in contact.items() if k in ("email", "phone", "whatsapp")
            and isinstance(v, str) and v.strip()}


def reply_to_of(shop: Shop, comm: Communication) -> str:
    """Where a customer's reply to an e-mail goes: the address set for replies, else the shop's contact
    e-mail; empty when there is neither (then messages point to the status page instead)."""
    return comm.reply_to or contact_of(shop).get("email", "")


def languages_of(shop: Shop) -> list[str]:
    """The languages the shop writes to customers in (the default policy's, both, when none are saved)."""
    languages = _policy(shop).get("languages")
    if not isinstance(languages, list):
        return list(values(Locale))
    return [x for x in languages if isinstance(x, str)]


def shop_name(shop: Shop) -> str:
    return shop.name or shop.domain.removeprefix("https://").removeprefix("http://").rstrip("/")


def contact_links(contact: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each channel's link and label: mailto:, tel: and WhatsApp click-to-chat (https://wa.me/ and the digits)."""
    links = {}
    if contact.get("email"):
        links["email"] = {"href": f"mailto:{contact['email']}", "label": contact["email"]}
    if contact.get("phone"):
        plus = "+" if contact["phone"].startswith("+") else ""
        links["phone"] = {"href": f"tel:{plus}{_digits(contact['phone'])}", "label": contact["phone"]}
    if contact.get("whatsapp") and _digits(contact["whatsapp"]):
        links["whatsapp"] = {"href": f"https://wa.me/{_digits(contact['whatsapp'])}", "label": contact["whatsapp"]}
    return links


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)
