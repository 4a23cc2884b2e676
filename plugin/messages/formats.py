"""Dates, times, money and percentages as a customer reads them: in their language and the shop's time zone.

Pure: Babel's locale data only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_currency, format_decimal, format_percent

from plugin.vocabulary import Locale

# The day a promise falls on, written out as each language writes it in a sentence.
LONG_DAY = {Locale.ES: "EEEE d 'de' MMMM", Locale.EN: "EEEE, MMMM d"}
LONG_DAY_YEAR = {Locale.ES: "EEEE d 'de' MMMM 'de' y", Locale.EN: "EEEE, MMMM d, y"}
# Spanish groups thousands only from five digits on (1234,50 €, but 12.345,00 €): CLDR's minimum grouping
# digits, which Babel does not apply.
FOUR_DIGITS = re.compile(r"(?<![\d.])(\d)\.(\d{3})(?![\d.])")



def typed_words(value: object) -> str:
    """What a person typed in a form: a browser textarea's CRLF as plain newlines (paragraphs kept as blank
    lines, whatever sent them), no blanks around it; anything but text is no words."""
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""

def _grouped(text: str, locale: Locale) -> str:
    return FOUR_DIGITS.sub(r"\1\2", text) if locale == Locale.ES else text


@dataclass(frozen=True)
class Formats:
    locale: Locale
    tz: tzinfo
    now: datetime  # dates of another year show it

    def _year(self, moment: datetime) -> bool:
        return moment.astimezone(self.tz).year != self.now.astimezone(self.tz).year

    def day(self, moment: datetime) -> str:
        """`martes 17 de noviembre`, `Tuesday, November 17` (with the year when it is not this one)."""
        pattern = (LONG_DAY_YEAR if self._year(moment) else LONG_DAY)[self.locale]
        return format_date(moment.astimezone(self.tz), pattern, locale=self.locale.value)

    def date(self, moment: datetime) -> str:
        """A date with its year: `17 de noviembre de 2026`, `November 17, 2026`."""
        return format_date(moment.astimezone(self.tz), "long", locale=self.locale.value)

    def time(self, moment: datetime) -> str:
        return format_time(moment, "short", tzinfo=self.tz, locale=self.locale.value)

    def stamp(self, moment: datetime) -> str:
        """A timeline's moment, short: `mar, 17 nov, 17:00`, `Tue, Nov 17, 5:00 PM`."""
        skeleton = "yMMMEd" if self._year(moment) else "MMMEd"
        return f"{format_skeleton(skeleton, moment, tzinfo=self.tz, locale=self.locale.value)}, {self.time(moment)}"

    def money(self, amount: Decimal | str | None, currency: str | None) -> str:
        """7.5 EUR → `7,50 €` (Spanish) or `€7.50`."""
        if amount is None:
            return ""
        return _grouped(format_currency(Decimal(str(amount)), (currency or "USD").upper(), locale=self.locale.value),
                        self.locale)

    def percent(self, value: Decimal | str | None) -> str:
        """15 → `15 %` (Spanish) or `15%`."""
        if value is None:
            return ""
        share = Decimal(str(value)).normalize() / 100
        return format_percent(share, locale=self.locale.value, decimal_quantization=False)

    def number(self, value: int) -> str:
        return _grouped(format_decimal(value, locale=self.locale.value), self.locale)
