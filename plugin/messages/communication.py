"""The `communication` section of a shop's policy (CONTRACT.md, "Customer communication"): how long a
customer may go without news, the shop's quiet hours, how fast a reply is promised, who the messages come
from and which team addresses hear of what needs them.

Pure domain code: JSON in, a checked `Communication` or sentences for the merchant out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

MAX_SILENCE_HOURS = (24, 168)  # the settings allow a day to a week, never more
MAX_QUIET = timedelta(hours=12)  # quiet hours are the night: customers still hear every day
DEFAULT_COMMUNICATION: dict[str, Any] = {
    "max_silence_hours": 72, "quiet_hours": {"from": "22:00", "to": "08:00"},
    "reply_within_business_hours": 8, "sender_name": "", "reply_to": "",
    "team_emails": [], "team_webhook_url": "",
}
# An address a mail server can try: something @ a dotted domain, no spaces. Deliverability is the mail's test.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Communication:
    max_silence_hours: int = 72
    quiet_from: time = time(22, 0)
    quiet_to: time = time(8, 0)
    reply_within_business_hours: int = 8
    sender_name: str = ""
    reply_to: str = ""
    team_emails: tuple[str, ...] = ()
    team_webhook_url: str = ""


def parse_communication(raw: Any) -> tuple[Communication, list[str]]:
    """The section as stored (missing keys take their defaults), and every problem with it."""
    problems: list[str] = []
    data = {**DEFAULT_COMMUNICATION, **raw} if isinstance(raw, dict) else dict(DEFAULT_COMMUNICATION)
    if raw is not None and not isinstance(raw, dict):
        problems.append("Communication settings must be an object")
    unknown = sorted(set(data) - set(DEFAULT_COMMUNICATION))
    if unknown:
        problems.append(f"Communication: unknown setting {', '.join(map(repr, unknown))}")
    low, high = MAX_SILENCE_HOURS
    silence = _whole(data["max_silence_hours"], "The longest silence", low, high, problems)
    reply = _whole(data["reply_within_business_hours"], "The reply time", 1, 80, problems)
    quiet_from, quiet_to = _quiet_hours(data["quiet_hours"], problems)
    reply_to = _text(data["reply_to"], "The reply-to address", problems)
    if reply_to and not EMAIL.match(reply_to):
        problems.append(f"The reply-to address {reply_to!r} is not an email address")
    team = _team(data["team_emails"], problems)
    webhook = _text(data["team_webhook_url"], "The team webhook URL", problems)
    if webhook and (urlsplit(webhook).scheme != "https" or not urlsplit(webhook).hostname):
        problems.append("The team webhook URL must be an https:// address (a Slack-compatible incoming webhook)")
    return Communication(silence or 72, quiet_from, quiet_to, reply or 8,
                         _text(data["sender_name"], "The sender name", problems), reply_to, team, webhook), problems


def communication_json(comm: Communication) -> dict[str, Any]:
    """The section as it is stored: numbers as numbers, addresses trimmed, whatever way it was written."""
    return {"max_silence_hours": comm.max_silence_hours,
            "quiet_hours": {"from": comm.quiet_from.strftime("%H:%M"), "to": comm.quiet_to.strftime("%H:%M")},
            "reply_within_business_hours": comm.reply_within_business_hours, "sender_name": comm.sender_name,
            "reply_to": comm.reply_to, "team_emails": list(comm.team_emails),
            "team_webhook_url": comm.team_webhook_url}


def _whole(value: Any, what: str, low: int, high: int, problems: list[str]) -> int | None:
    written = str(value).strip()
    if isinstance(value, bool) or not isinstance(value, int | str) or not (written.isascii() and written.isdigit()):
        problems.append(f"{what} must be a whole number of hours, not {value!r}")
        return None
    n = int(written)
    if not low <= n <= high:
        problems.append(f"{what} must be from {low} to {high} hours, not {n}")
        return None
    return n


def _quiet_hours(value: Any, problems: list[str]) -> tuple[time, time]:
    try:
        start, end = time.fromisoformat(value["from"]), time.fromisoformat(value["to"])
    except (TypeError, KeyError, ValueError):
        problems.append("Quiet hours need a start and an end written as HH:MM, like 22:00 and 08:00")
        return time(22, 0), time(8, 0)
    span = (datetime.combine(date.min, end) - datetime.combine(date.min, start)) % timedelta(days=1)
    if not timedelta(0) < span <= MAX_QUIET:
        problems.append(f"Quiet hours must last from a minute to {MAX_QUIET.seconds // 3600} hours, "
                        f"not {value['from']} to {value['to']}")
        return time(22, 0), time(8, 0)
    return start, end


def _text(value: Any, what: str, problems: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(f"{what} must be text")
        return ""
    return value.strip()


def _team(value: Any, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append("Team addresses must be a list of email addresses")
        return ()
    emails = tuple(v.strip().lower() for v in value if v.strip())
    wrong = [e for e in emails if not EMAIL.match(e)]
    if wrong:
        problems.append(f"Team address {', '.join(map(repr, wrong))} is not an email address")
    return emails
