"""A message's words: its subject and body rendered from the shop's template (or ours) for its purpose and
language, in a sandbox, then laid out as plain text and as HTML with the CSS inlined.

A template is plain text: the first line `Subject: …`, then the body, paragraphs apart by a blank line and
lines beginning with `- ` as a list. Both the text and the HTML part come from it, so they never disagree.
Merchants' templates run in Jinja's immutable sandbox: they read the message's facts and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
from babel.support import NullTranslations, Translations
from jinja2 import (
    ChoiceLoader,
    DictLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from plugin.messages.formats import Formats
from plugin.vocabulary import Locale, Purpose

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "messages"
CATALOGS = TEMPLATES.parent / "translations"
EDITABLE = (Purpose.OPENED, Purpose.COMPENSATION, Purpose.UPDATE, Purpose.RESOLVED)
AT = {Locale.EN: "{date} at {time}", Locale.ES: "{date} a las {time}"}
URL = re.compile(r"https?://[^\s<>()]+[^\s<>().,;:!?]")
TAG = re.compile(r"{%.*?%}")


class Lines(Extension):
    """A line that holds only tags vanishes; a line of words ending in a tag keeps its line break.
    (Jinja's trim_blocks alone would join such a line to the next: "…with Correos{% endif %}".)"""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return "".join(line + "\n" if line.rstrip("\n").endswith("%}") and TAG.sub("", line).strip() else line
                       for line in source.splitlines(keepends=True))


class TemplateProblem(ValueError):
    """A merchant's template that cannot be rendered, in words they can act on."""


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str


def default_source(purpose: str, locale: str) -> str:
    return (TEMPLATES / locale / f"{purpose}.txt").read_text(encoding="utf-8")


def compose(purpose: str, locale: Locale, tz: ZoneInfo, now: datetime, facts: Mapping[str, Any],
            overrides: Mapping[str, str] | None = None) -> Composed:
    """Render the message, written at `now`; a shop's own template (`overrides[purpose]`) wins over ours."""
    token = _FORMATS.set(Formats(locale, tz, now))
    try:
        env = _sandbox(locale, tuple(sorted((overrides or {}).items())))
        try:
            rendered = env.get_template(f"{purpose}.txt").render(**facts)
        except Exception as exc:  # noqa: BLE001 - whatever a merchant's template raises ({{ 1/0 }}, a None's length)
            raise TemplateProblem(f"the {purpose} template ({locale}) cannot be used: {exc}") from exc
        subject, body = _split(rendered)
        text = _layout(locale, "_layout.txt", subject, body, facts)
        html = _layout(locale, "_layout.html", subject, Markup(_html_body(body)), facts)
    finally:
        _FORMATS.reset(token)
    return Composed(subject, text.strip() + "\n", _INLINER.inline(html))


def check_template(purpose: str, locale: Locale, source: str, sample: Mapping[str, Any]) -> list[str]:
    """Problems with a merchant's template, found by rendering it on a sample incident."""
    try:
        compose(purpose, locale, ZoneInfo("UTC"), sample["opened_at"], sample, {f"{purpose}.txt": source})
    except TemplateProblem as exc:
        return [str(exc).capitalize()]
    except ValueError as exc:
        return [f"The {purpose} template ({locale}): {exc}"]
    return []


def _split(rendered: str) -> tuple[str, str]:
    first, _, body = rendered.lstrip().partition("\n")
    if not first.lower().startswith("subject:") or not first[8:].strip():
        raise ValueError("the first line must be the subject, written as 'Subject: …'")
    return " ".join(first[8:].split()), re.sub(r"\n{3,}", "\n\n", body.strip())


def _html_body(body: str) -> str:
    """Paragraphs, and runs of `- ` lines as lists."""
    blocks = []
    for block in body.split("\n\n"):
        for is_list, run in groupby(block.splitlines(), key=lambda line: line.startswith("- ")):
            lines = list(run)
            if is_list:
                blocks.append("<ul>" + "".join(f"<li>{_linked(line[2:])}</li>" for line in lines) + "</ul>")
            else:
                blocks.append("<p>" + "<br>".join(_linked(line) for line in lines) + "</p>")
    return "\n".join(blocks)


def _linked(line: str) -> str:
    out, end = [], 0
    for m in URL.finditer(line):
        out += [str(escape(line[end:m.start()])), f'<a href="{escape(m.group())}">{escape(m.group())}</a>']
        end = m.end()
    return "".join(out) + str(escape(line[end:]))


# The environments are built once (per language, and per set of a shop's own templates) so that each
# template is compiled once; what varies per message (language, time zone, now) reaches the filters
# through a context variable, which no template can see and no other thread shares.
_FORMATS: ContextVar[Formats] = ContextVar("formats")
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


@lru_cache(maxsize=256)
def _sandbox(locale: Locale, overrides: tuple[tuple[str, str], ...]) -> Environment:
    loader = ChoiceLoader([DictLoader(dict(overrides)), FileSystemLoader(TEMPLATES / locale)])
    env = ImmutableSandboxedEnvironment(loader=loader, undefined=StrictUndefined, autoescape=False,
                                        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                                        extensions=[Lines])
    env.filters.update(_FILTERS)
    return env


@cache
def _layouts(locale: Locale) -> Environment:
    # Our own layouts, not editable: trusted, rendered outside the sandbox, their words from the Babel catalogs;
    # the HTML one is escaped, the text one is not.
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default=False), trim_blocks=True,
                      lstrip_blocks=True, extensions=[Lines, "jinja2.ext.i18n"])
    env.install_gettext_translations(_catalog(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(_FILTERS)
    return env


def _layout(locale: Locale, name: str, subject: str, body: str, facts: Mapping[str, Any]) -> str:
    return _layouts(locale).get_template(name).render(subject=subject, body=body, locale=locale.value, **facts)


@cache
def _catalog(locale: Locale) -> NullTranslations:
    return Translations.load(str(CATALOGS), [locale.value])


def _when(moment: datetime | None) -> str:
    if not moment:
        return ""
    f = _FORMATS.get()
    return AT[f.locale].format(date=f.day(moment), time=f.time(moment))


_FILTERS: dict[str, Any] = {
    "date": lambda m: _FORMATS.get().day(m) if m else "", "time": lambda m: _FORMATS.get().time(m) if m else "",
    "datetime": _when, "money": lambda *a: _FORMATS.get().money(*a), "percent": lambda *a: _FORMATS.get().percent(*a),
}


def sample_facts(kind: str = "fulfillment_late", fault: str = "shop") -> dict[str, Any]:
    """A made-up incident for checking a template before any real one exists (and for its preview)."""
    day = datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("UTC"))
    return {
        "shop_name": "Tienda Sol", "sender_name": "", "customer_name": "Lucía", "order_number": "#1042",
        "order_total": Decimal("59.90"), "currency": "EUR", "kind": kind, "fault": fault, "since": day,
        "opened_at": day, "carrier": "Correos", "tracking_url": "https://example.com/track/PK123",
        "tracking_number": "PK123",
        "shipped_at": None, "last_scan_at": None, "estimated_delivery_at": None, "delivered_at": None,
        "compensations": [
            {"type": "refund", "action": "refund_shipping", "amount": Decimal("4.95"), "currency": "EUR",
             "percent": None, "code": None, "expires_at": None},
            {"type": "coupon", "action": "coupon_percent", "amount": None, "currency": "EUR",
             "percent": Decimal("10"), "code": "SORRY-7QK2M9",
             "expires_at": datetime(2027, 2, 16, tzinfo=ZoneInfo("UTC"))},
        ],
        "given": [], "awaiting_approval": False, "news": [], "offer": None,
        "next_update_at": datetime(2026, 11, 21, 10, 0, tzinfo=ZoneInfo("UTC")),
        "status_url": "https://redress.example.com/s/sample",
        "contact": {"email": "hola@tiendasol.es", "phone": "+34 910 000 000", "whatsapp": "+34 600 000 000",
                    "whatsapp_url": "https://wa.me/34600000000"},
        "reply_to": "hola@tiendasol.es", "not_sorted_at": None, "team_text": None,
    }
