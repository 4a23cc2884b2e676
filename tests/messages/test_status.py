"""What the status page decides: the customer's language, the story, the next update, and replies numbered
without collisions when two arrive at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import event, insert, select

from plugin.extensions import db
from plugin.messages import status
from plugin.messages.records import committed
from plugin.storage.models import Compensation, Incident, Message, Order, Shop
from plugin.vocabulary import (
    Audience,
    Channel,
    CompensationState,
    IncidentStatus,
    Kind,
    Locale,
    MessageState,
    Platform,
    Purpose,
    Responsibility,
)
from tests.support.status import status_incident, status_shop

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday


def incident(*, locale=None, order_locale=None, country=None, languages=("en", "es"), status_=IncidentStatus.OPEN,
             messages=(), timezone="Europe/Madrid") -> Incident:
    """An incident in memory, as the page reads it (no database needed)."""
    shop = Shop(platform=Platform.SHOPIFY, domain="snowdevil.myshopify.com", name=None, timezone=timezone,
                policy={"languages": list(languages), "communication": {"max_silence_hours": 48}})
    order = Order(shop=shop, platform_order_id="1", number="#1001", currency="EUR", paid_at=NOW - timedelta(days=4),
                  facts={"created_at": "2026-11-16T09:00:00Z", "locale": order_locale, "country": country})
    inc = Incident(kind=Kind.FULFILLMENT_LATE, responsibility=Responsibility.SHOP, status=status_, evidence=[],
                   opened_at=NOW - timedelta(days=1), locale=locale, order=order)
    inc.messages = list(messages)
    inc.compensations = []
    return inc


def to_customer(sent_at: datetime | None, purpose=Purpose.UPDATE, state=MessageState.SENT) -> Message:
    return Message(audience=Audience.CUSTOMER, purpose=purpose, channel=Channel.EMAIL, state=state, sent_at=sent_at,
                   created_at=sent_at or NOW, subject="News", body_text="")


def test_the_page_speaks_the_language_asked_for_else_the_customers_else_the_one_redress_would_choose():
    assert status.page_locale("en", incident(locale="es")) == Locale.EN
    assert status.page_locale("fr", incident(locale="es")) == Locale.ES  # not a language of the page: ignored
    assert status.page_locale(None, incident(locale="en", country="ES")) == Locale.EN
    assert status.page_locale(None, incident(order_locale="es-MX", country="US")) == Locale.ES
    assert status.page_locale(None, incident(country="AR")) == Locale.ES
    assert status.page_locale(None, incident(country="FR", languages=("es", "en"))) == Locale.ES
    assert status.page_locale(None, incident(country="ES", languages=("en",))) == Locale.EN  # the shop's language


def test_the_next_update_is_due_a_longest_silence_after_the_last_message_to_the_customer():
    sent = NOW - timedelta(hours=3)  # 10:00 in Madrid: +48 h is Sunday 10:00, outside quiet hours
    shown = status.view(incident(messages=[to_customer(sent), to_customer(NOW - timedelta(hours=30))]), NOW)
    assert shown.next_update_at == sent + timedelta(hours=48) and not shown.update_overdue
    # A message recorded and on its way counts from when it was recorded, as the schedule counts it.
    going = status.view(incident(messages=[to_customer(sent), to_customer(None, state=MessageState.QUEUED)]), NOW)
    assert going.next_update_at == NOW + timedelta(hours=48)
    # Nothing written yet: counted from the opening (a day ago), so it is due within a day.
    assert status.view(incident(), NOW).next_update_at == NOW + timedelta(days=1)
    # A last message at 23:00 in Madrid would promise the next inside quiet hours: it comes before they start.
    late = datetime(2026, 11, 18, 22, 0, tzinfo=UTC)
    assert status.view(incident(messages=[to_customer(late)]), NOW).next_update_at == datetime(
        2026, 11, 20, 20, 59, tzinfo=UTC)
    assert status.view(incident(messages=[to_customer(NOW - timedelta(days=3))]), NOW).update_overdue
    resolved = status.view(incident(status_=IncidentStatus.RESOLVED), NOW)
    assert resolved.next_update_at is None and resolved.ask_if_sorted and not resolved.is_open


def test_the_story_is_told_in_order_with_the_customers_own_words_and_what_was_issued():
    reply = Message(audience=Audience.CUSTOMER, purpose=Purpose.REPLY, channel=Channel.STATUS_PAGE,
                    state=MessageState.SENT, sent_at=NOW - timedelta(hours=2), body_text="¿Y mi pedido?")
    team = Message(audience=Audience.TEAM, purpose=Purpose.TEAM_ALERT, channel=Channel.EMAIL,
                   state=MessageState.SENT, sent_at=NOW - timedelta(hours=2), body_text="for the team")
    inc = incident(messages=[to_customer(NOW - timedelta(hours=20), Purpose.OPENED), reply, team])
    inc.compensations = [
        Compensation(action="refund_shipping", amount=Decimal("7.50"), state=CompensationState.ISSUED,
                     updated_at=NOW - timedelta(hours=5)),
        Compensation(action="coupon_percent", percent=Decimal(10), state=CompensationState.CANCELLED,
                     updated_at=NOW - timedelta(hours=4))]
    inc.confirmed, inc.confirmed_at = False, NOW - timedelta(hours=1)
    story = status.timeline(inc)
    assert [e.what for e in story] == ["placed", "paid", "opened", "message", "compensation", "reply", "answer"]
    assert story[2].detail == {"kind": "fulfillment_late", "responsibility": "shop"}
    assert story[5].detail == {"text": "¿Y mi pedido?"} and story[6].detail == {"sorted": False}
    assert [c.state for c in status.view(inc, NOW).compensations] == ["issued"]  # withdrawn ones are not shown


def test_contact_channels_become_links_a_phone_can_open():
    assert status.contact_links({"email": "hola@tienda.es", "phone": "+34 910-000 000", "whatsapp": "600 111 222"}) == {
        "email": {"href": "mailto:hola@tienda.es", "label": "hola@tienda.es"},
        "phone": {"href": "tel:+34910000000", "label": "+34 910-000 000"},
        "whatsapp": {"href": "https://wa.me/600111222", "label": "600 111 222"}}
    assert status.contact_links({}) == {}


def test_two_replies_at_once_get_two_numbers(app):
    """Another request stores reply 1 between this one's count and its insert: the unique constraint refuses
    a second number 1, and the reply is recorded again as number 2, with its team alert."""
    shop_id = status_shop(app)
    incident_id, _ = status_incident(app, shop_id)
    engine = db(app).engine
    raced = []

    def other_request_first(conn, cursor, statement, parameters, context, executemany):
        # Before this request's first write, so neither waits for the other's lock.
        if not raced and statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            raced.append(True)
            with engine.connect() as other:
                other.execute(insert(Message).values(
                    shop_id=shop_id, incident_id=incident_id, key=f"incident:{incident_id}:reply:1",
                    audience="customer", purpose="reply", sequence=1, channel="status_page", body_text="first",
                    state="sent", details={}, attempts=0, created_at=NOW, sent_at=NOW))
                other.commit()

    event.listen(engine, "before_cursor_execute", other_request_first)
    try:
        with db(app).session() as s:
            inc = status.find_incident(s, incident_id)
            reply, alert = committed(s, lambda: status.record_reply(s, inc, "second", Locale.ES, NOW))
    finally:
        event.remove(engine, "before_cursor_execute", other_request_first)
    assert raced
    with db(app).session() as s:
        rows = s.execute(select(Message.purpose, Message.sequence, Message.body_text, Message.key)
                         .order_by(Message.purpose, Message.sequence)).all()
    assert [tuple(r) for r in rows] == [
        ("reply", 1, "first", f"incident:{incident_id}:reply:1"),
        ("reply", 2, "second", f"incident:{incident_id}:reply:2"),
        ("team_alert", 1, rows[2].body_text, f"incident:{incident_id}:team:reply:1")]
    assert "second" in rows[2].body_text
