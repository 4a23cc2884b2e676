"""Dates, money and percentages as the customer reads them, in their language and the shop's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from plugin.messages.formats import Formats
from plugin.vocabulary import Locale

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MADRID = ZoneInfo("Europe/Madrid")
ES, EN = Formats(Locale.ES, MADRID, NOW), Formats(Locale.EN, MADRID, NOW)
MOMENT = datetime(2026, 11, 17, 16, 0, tzinfo=UTC)  # 17:00 in Madrid


def test_a_promised_day_and_time_read_as_each_language_writes_them_in_the_shops_time_zone():
    assert (ES.day(MOMENT), ES.time(MOMENT)) == ("martes 17 de noviembre", "17:00")
    assert (EN.day(MOMENT), EN.time(MOMENT)) == ("Tuesday, November 17", "5:00\u202fPM")
    # Midnight in Madrid is still the day before in UTC: the shop's day counts.
    late = datetime(2026, 11, 17, 23, 30, tzinfo=UTC)
    assert ES.day(late) == "miércoles 18 de noviembre" and ES.time(late) == "0:30"


def test_another_year_is_named_and_dates_have_their_year():
    next_year = datetime(2027, 2, 15, 10, 0, tzinfo=UTC)
    assert ES.day(next_year) == "lunes 15 de febrero de 2027"
    assert EN.day(next_year) == "Monday, February 15, 2027"
    assert ES.date(next_year) == "15 de febrero de 2027" and EN.date(next_year) == "February 15, 2027"
    assert ES.stamp(MOMENT) == "mar, 17 nov, 17:00" and EN.stamp(MOMENT) == "Tue, Nov 17, 5:00\u202fPM"


def test_money_and_percentages_follow_the_language():
    assert ES.money(Decimal("7.5"), "EUR") == "7,50\xa0€" and EN.money(Decimal("7.5"), "EUR") == "€7.50"
    assert ES.money("1234.5", "usd") == "1234,50\xa0US$" and EN.money("1234.5", "USD") == "$1,234.50"
    assert ES.money("12345.5", "EUR") == "12.345,50\xa0€" and ES.money("1234567", "EUR") == "1.234.567,00\xa0€"
    assert ES.money(Decimal(500), "JPY") == "500\xa0JPY" and EN.money(Decimal(500), "JPY") == "¥500"
    assert ES.percent("15") == "15\xa0%" and EN.percent(Decimal("15.000")) == "15%"
    assert ES.percent("12.5") == "12,5\xa0%" and EN.percent("12.5") == "12.5%"
    assert ES.number(5000) == "5000" and EN.number(5000) == "5,000"
