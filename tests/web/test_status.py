"""The customer's status page, `/s/<token>`: what it shows in Spanish and English, the same 404 for every token
that is not a live one, and the customer's choice, answer and reply, each behind the page's CSRF field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from rq import Queue
from sqlalchemy import func, select

from plugin.extensions import db, redis_conn, signer
from plugin.messages import promises
from plugin.messages.communication import parse_communication
from plugin.messages.formats import Formats
from plugin.messages.links import status_token
from plugin.messages.terms import calendar_of
from plugin.storage.models import Compensation, Incident, Message, Shop
from plugin.vocabulary import (
    Audience,
    Channel,
    CompensationState,
    IncidentStatus,
    Locale,
    MessageState,
    Purpose,
    Responsibility,
)
from tests.support.status import OFFER, status_incident, status_shop

NBSP = "\xa0"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def open_page(client, token: str, **query) -> tuple[str, str]:
    r = client.get(f"/s/{token}", query_string=query)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    return html, csrf_of(html)


def text_of(html: str) -> str:
    """The page's words, one space between them."""
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html))  # no-break spaces stay


def messages(app, **where) -> list[Message]:
    with db(app).session() as s:
        q = select(Message).order_by(Message.id)
        for k, v in where.items():
            q = q.where(getattr(Message, k) == v)
        return list(s.execute(q).scalars())


def incident(app, incident_id: int) -> Incident:
    with db(app).session() as s:
        return s.get(Incident, incident_id)


def queued_jobs(app, queue: str) -> list[str]:
    return Queue(queue, connection=redis_conn(app)).job_ids


@pytest.fixture
def shop(app):
    return status_shop(app)


# -- 404 ---------------------------------------------------------------------------------------------------


def test_every_token_that_is_not_a_live_incidents_gets_the_same_404(app, client, shop):
    incident_id, token = status_incident(app, shop)
    gone_id, gone = status_incident(app, shop, number="#1002")
    with db(app).session() as s:
        s.delete(s.get(Incident, gone_id))
        s.commit()
    altered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    other_secret = URLSafeTimedSerializer("another-redress", salt="status-page").dumps(incident_id)
    other_purpose = signer(app, "login-link").dumps(incident_id)
    not_an_id = signer(app, "status-page").dumps(str(incident_id))
    bodies = set()
    for bad in ("nonsense", altered, gone, other_secret, other_purpose, not_an_id, token + "x"):
        r = client.get(f"/s/{bad}")
        assert r.status_code == 404, bad
        assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
        bodies.add(r.get_data(as_text=True))
        assert client.post(f"/s/{bad}/reply", data={"text": "hello"}).get_data(as_text=True) in bodies
    for odd in (f"/s/{token}/", "/s/a/b", "/s/", f"/s/{token}/offer/x"):
        r = client.get(odd)
        assert r.status_code == 404 and r.headers["Cache-Control"] == "no-store", odd
        bodies.add(r.get_data(as_text=True))
    assert len(bodies) == 1
    assert "This link does not lead to an order" in bodies.pop()
    spanish = client.get("/s/nonsense", headers={"Accept-Language": "es-ES,es;q=0.9"}).get_data(as_text=True)
    assert "Este enlace no lleva a ningún pedido" in spanish
    assert client.get(f"/s/{token}").status_code == 200
    assert messages(app) == []


def test_a_token_shows_its_own_shops_incident_and_nothing_of_another_shop(app, client, shop):
    other = status_shop(app, domain="other-store.myshopify.com", name="Otra Tienda", team=("ops@otra.es",))
    _, mine = status_incident(app, shop, number="#1001")
    _, theirs = status_incident(app, other, number="#2002")
    page = text_of(open_page(client, mine)[0])
    assert "Snow Devil" in page and "#1001" in page
    assert "Otra Tienda" not in page and "#2002" not in page
    page = text_of(open_page(client, theirs)[0])
    assert "Otra Tienda" in page and "#2002" in page and "Snow Devil" not in page


# -- what the page shows -----------------------------------------------------------------------------------


def sent_message(app, incident_id: int, at: datetime, subject: str, purpose: Purpose = Purpose.OPENED) -> None:
    with db(app).session() as s:
        inc = s.get(Incident, incident_id)
        s.add(Message(shop_id=inc.shop_id, incident_id=inc.id, key=f"incident:{inc.id}:{purpose}:1",
                      audience=Audience.CUSTOMER, purpose=purpose, sequence=1, channel=Channel.EMAIL,
                      to_address="lucia@example.es", locale="es", subject=subject, body_text="…",
                      state=MessageState.SENT, created_at=at, sent_at=at))
        s.commit()


def promised_update(app, shop_id: int, last: datetime):
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        return promises.update_due(last, parse_communication(shop.policy["communication"])[0], calendar_of(shop))


def test_the_page_in_spanish_tells_the_story_owns_the_shops_mistake_and_says_when_the_next_update_comes(
        app, client, shop):
    incident_id, token = status_incident(app, shop, offer=OFFER)  # a Spanish order: the customer reads Spanish
    wrote = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    sent_message(app, incident_id, wrote, "Tu pedido #1001 va con retraso")
    r = client.get(f"/s/{token}")
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    html = r.get_data(as_text=True)
    page = text_of(html)
    assert '<html lang="es">' in html and 'name="viewport"' in html
    assert "Snow Devil" in page and "Pedido #1001" in page
    assert ("Tu pedido está tardando más de lo debido en salir de nuestro almacén. "
            "Es un error nuestro y lo sentimos.") in page
    assert "Te contamos lo que pasó “Tu pedido #1001 va con retraso”" in page
    fmt = Formats(Locale.ES, calendar_of_shop(app, shop), datetime.now(UTC))
    assert fmt.stamp(wrote) in page
    due = promised_update(app, shop, wrote)
    assert (f"Te volveremos a escribir como muy tarde el {fmt.day(due)} a las {fmt.time(due)}, "
            "aunque todavía no haya novedades.") in page
    assert f"El reembolso del envío, 7,50{NBSP}€" in page
    assert f"Un cupón del 15{NBSP}% válido durante 90 días" in page
    assert 'href="?lang=en"' in html and 'href="?lang=es"' in html
    assert 'href="mailto:hola@snowdevil.es"' in html and 'href="tel:+34910000000"' in html
    assert 'href="https://wa.me/34600111222"' in html
    assert "Las horas aparecen en la zona horaria de la tienda (Europe/Madrid)." in page


def calendar_of_shop(app, shop_id: int):
    with db(app).session() as s:
        return calendar_of(s.get(Shop, shop_id)).tz


def test_the_same_page_in_english_on_asking_and_for_an_english_speaking_customer(app, client, shop):
    _, token = status_incident(app, shop, offer=OFFER, responsibility=Responsibility.CARRIER,
                               kind="transit_stalled")
    page = text_of(open_page(client, token, lang="en")[0])
    assert "Order #1001" in page and "We spotted a problem" in page
    assert ("Your parcel has not moved for a while on its way to you. The problem is with the carrier, but you "
            "ordered from us, so putting it right is our job.") in page
    assert "A refund of the shipping, €7.50" in page and "A 15% coupon valid for 90 days" in page
    assert "We will write to you again by" in page and "even if there is no news yet." in page
    # The customer's language decides without ?lang=: the one written to, else the order's, else the country's.
    _, english = status_incident(app, shop, number="#1003", locale="en")
    assert "Order #1003" in text_of(open_page(client, english)[0])
    _, american = status_incident(app, shop, number="#1004", country="US")
    assert '<html lang="en">' in open_page(client, american)[0]
    _, mexican = status_incident(app, shop, number="#1005", country="US", order_locale="es-MX")
    assert "Pedido #1005" in text_of(open_page(client, mexican)[0])
    assert "Pedido #1003" in text_of(open_page(client, english, lang="es")[0])


def test_issued_compensations_show_their_amount_code_and_expiry(app, client, shop):
    incident_id, token = status_incident(app, shop)
    now = datetime.now(UTC).replace(microsecond=0)
    with db(app).session() as s:
        inc = s.get(Incident, incident_id)
        inc.compensations.append(Compensation(
            action="refund_shipping", amount=7.5, currency="EUR", value=7.5, state=CompensationState.ISSUED,
            idempotency_key="k-refund", created_at=now, updated_at=now))
        inc.compensations.append(Compensation(
            action="coupon_percent", percent=10, currency="EUR", value=10, valid_days=90, code="SORRY-7KQ2-MX",
            state=CompensationState.ISSUED, expires_at=now + timedelta(days=90), idempotency_key="k-coupon",
            created_at=now, updated_at=now))
        inc.compensations.append(Compensation(
            action="coupon_amount", amount=5, currency="EUR", value=5, state=CompensationState.CANCELLED,
            idempotency_key="k-withdrawn", created_at=now, updated_at=now))
        s.commit()
    fmt = Formats(Locale.ES, calendar_of_shop(app, shop), now)
    page = text_of(open_page(client, token)[0])
    assert f"El reembolso del envío, 7,50{NBSP}€ Reembolsado el {fmt.date(now)}." in page
    assert f"Un cupón del 10{NBSP}% válido durante 90 días Tu código: SORRY-7KQ2-MX" in page
    assert f"Válido hasta el {fmt.date(now + timedelta(days=90))}." in page
    assert f"Te enviamos el reembolso del envío, 7,50{NBSP}€" in page  # in the story too
    assert "5,00" not in page  # a withdrawn compensation is not the customer's


def test_an_incident_opened_by_a_webhook_shows_what_the_worker_issued(app, client, shopify):
    """The real flow: a paid order never shipped, the worker opens the incident and issues the shop's
    compensations on the fake store; the page shows them in the customer's language (English for Canada)."""
    from tests.support.platforms import post_shopify, shopify_order
    from tests.support.work import run_worker

    shopify.add_payable_order("820982911946154508", total="404.95", shipping="10.00")
    long_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    post_shopify(client, shopify_order(cancelled_at=None, cancel_reason=None, financial_status="paid",
                                       processed_at=long_ago, created_at=long_ago), topic="orders/paid")
    run_worker(app)
    with db(app).session() as s:
        inc = s.execute(select(Incident)).scalar_one()
        token = status_token(app, inc.id)
        coupon = next(c for c in inc.compensations if c.code)
    page = text_of(open_page(client, token)[0])
    assert "Order #9999" in page and "You placed your order" in page and "We received your payment" in page
    assert "That is our mistake, and we are sorry." in page
    assert "A refund of the shipping, $10.00 Refunded on" in page
    assert f"A 10% coupon valid for 90 days Your code: {coupon.code}" in page and "Valid until" in page


# -- the forms -----------------------------------------------------------------------------------------------


def test_a_form_without_the_pages_csrf_field_is_refused_and_changes_nothing(app, client, shop):
    incident_id, token = status_incident(app, shop, offer=OFFER, status=IncidentStatus.RESOLVED)
    _, csrf = open_page(client, token)
    for path, form in (("reply", {"text": "¿Dónde está mi pedido?"}), ("offer", {"option": "0"}),
                       ("confirm", {"answer": "no"})):
        for wrong in ({}, {"csrf": "not-the-one"}, {"csrf": csrf + "x"}, {"csrf": "señal-falsa"}):
            r = client.post(f"/s/{token}/{path}", data={**form, **wrong})
            assert r.status_code == 400, (path, wrong)
            assert "Esta página llevaba un rato abierta, así que no se ha enviado nada." in r.get_data(as_text=True)
    fresh = client.application.test_client()  # another browser: no session, so no CSRF value to match
    assert fresh.post(f"/s/{token}/reply", data={"text": "hola", "csrf": csrf}).status_code == 400
    inc = incident(app, incident_id)
    assert (inc.offer_chosen, inc.confirmed, inc.status, inc.reply_due_at) == (None, None, "resolved", None)
    assert messages(app) == [] and queued_jobs(app, "notify") == [] and queued_jobs(app, "compensate") == []


def test_the_customer_chooses_an_offer_and_sees_the_choice(app, client, shop):
    incident_id, token = status_incident(app, shop, offer=OFFER)
    _, csrf = open_page(client, token)
    r = client.post(f"/s/{token}/offer?lang=es", data={"option": "1", "csrf": csrf})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/s/{token}?lang=es")
    page = text_of(client.get(r.headers["Location"]).get_data(as_text=True))
    assert "Gracias: hemos recibido tu elección." in page
    assert f"Elegiste un cupón del 15{NBSP}% válido durante 90 días." in page
    inc = incident(app, incident_id)
    assert inc.offer_chosen == 1 and inc.offer_chosen_at is not None
    with db(app).session() as s:
        [comp] = s.execute(select(Compensation).where(Compensation.incident_id == incident_id)).scalars()
    assert comp.action == "coupon_percent" and queued_jobs(app, "compensate") == [f"compensate-{comp.id}"]
    # The notice shows once: reloading the page does not thank the customer again.
    assert "Gracias: hemos recibido tu elección." not in client.get(f"/s/{token}").get_data(as_text=True)


def test_an_option_that_is_not_offered_is_refused_with_a_clear_message(app, client, shop):
    incident_id, token = status_incident(app, shop, offer=OFFER)
    _, csrf = open_page(client, token)
    for option in ("7", "-1", "one", ""):
        r = client.post(f"/s/{token}/offer", data={"option": option, "csrf": csrf})
        assert r.status_code == 400
        assert "Elige una de las opciones que aparecen, por favor." in r.get_data(as_text=True)
    assert incident(app, incident_id).offer_chosen is None and queued_jobs(app, "compensate") == []
    _, no_offer = status_incident(app, shop, number="#1002")
    r = client.post(f"/s/{no_offer}/offer", data={"option": "0", "csrf": csrf})
    assert r.status_code == 409 and "En este pedido no hay nada que elegir." in r.get_data(as_text=True)


def test_a_choice_is_final_once_what_it_gave_is_issued(app, client, shop):
    incident_id, token = status_incident(app, shop, offer=OFFER)
    _, csrf = open_page(client, token)
    assert client.post(f"/s/{token}/offer", data={"option": "0", "csrf": csrf}).status_code == 302
    with db(app).session() as s:  # the compensation job issued the refund
        for comp in s.execute(select(Compensation).where(Compensation.incident_id == incident_id)).scalars():
            comp.state = CompensationState.ISSUED
        s.commit()
    page = text_of(client.get(f"/s/{token}").get_data(as_text=True))
    assert "Ya está en camino, así que esta elección es definitiva." in page and 'name="option"' not in page
    r = client.post(f"/s/{token}/offer", data={"option": "1", "csrf": csrf})
    assert r.status_code == 409
    assert "Tu elección ya está en camino, así que no se puede cambiar." in r.get_data(as_text=True)
    assert incident(app, incident_id).offer_chosen == 0


def test_yes_records_that_it_is_sorted_and_answering_again_updates_it(app, client, shop):
    incident_id, token = status_incident(app, shop, status=IncidentStatus.RESOLVED)
    html, csrf = open_page(client, token, lang="en")
    assert "Is everything sorted for you?" in text_of(html)
    r = client.post(f"/s/{token}/confirm?lang=en", data={"answer": "yes", "csrf": csrf})
    assert r.status_code == 302
    page = text_of(client.get(r.headers["Location"]).get_data(as_text=True))
    assert "Thank you for letting us know. We are glad it is sorted." in page
    assert "You told us everything is sorted" in page
    inc = incident(app, incident_id)
    assert inc.confirmed is True and inc.status == "resolved" and messages(app) == []
    assert inc.evidence[-1]["fact"] == "the customer says it is sorted"
    first = inc.confirmed_at
    client.post(f"/s/{token}/confirm", data={"answer": "no", "csrf": csrf})
    inc = incident(app, incident_id)
    assert inc.confirmed is False and inc.confirmed_at >= first
    page = text_of(client.get(f"/s/{token}?lang=en").get_data(as_text=True))
    assert page.index("You told us everything is sorted") < page.index("You told us it is not sorted yet")
    assert client.post(f"/s/{token}/confirm", data={"answer": "maybe", "csrf": csrf}).status_code == 400
    assert incident(app, incident_id).confirmed is False


def test_not_yet_reopens_a_resolved_incident_for_the_team_and_alerts_it(app, client, shop):
    incident_id, token = status_incident(app, shop, status=IncidentStatus.RESOLVED)
    _, csrf = open_page(client, token)
    r = client.post(f"/s/{token}/confirm", data={"answer": "no", "csrf": csrf})
    page = text_of(client.get(r.headers["Location"]).get_data(as_text=True))
    assert "Gracias por avisarnos. Volvemos a ocuparnos de ello." in page
    assert "Nos dijiste que todavía no está resuelto" in page and "Hemos recibido tu mensaje" in page
    inc = incident(app, incident_id)
    assert (inc.status, inc.resolved_at, inc.confirmed) == ("open", None, False)
    assert inc.evidence[-1]["fact"] == "the customer says it is not sorted yet; reopened for the team"
    assert inc.evidence[-1]["source"] == "status page"
    [alert] = messages(app, audience=Audience.TEAM)
    assert alert.key == f"incident:{incident_id}:team:not_sorted:1" and alert.purpose == Purpose.TEAM_ALERT
    assert (alert.state, alert.channel, alert.to_address) == ("queued", "email", "team@snowdevil.es")
    assert "not sorted" in alert.subject and "#1001" in alert.subject and "Snow Devil" in alert.subject
    assert f"Incident {incident_id}" in alert.body_text
    assert queued_jobs(app, "notify") == [f"send-{alert.id}"]


def test_not_yet_leaves_the_incident_resolved_when_another_open_one_covers_the_order(app, client, shop):
    incident_id, token = status_incident(app, shop, status=IncidentStatus.RESOLVED)
    with db(app).session() as s:  # the same order and kind went wrong again since
        old = s.get(Incident, incident_id)
        s.add(Incident(shop_id=shop, order_id=old.order_id, kind=old.kind, responsibility=old.responsibility,
                       status=IncidentStatus.OPEN, evidence=[], opened_at=datetime.now(UTC)))
        s.commit()
    _, csrf = open_page(client, token)
    assert client.post(f"/s/{token}/confirm", data={"answer": "no", "csrf": csrf}).status_code == 302
    inc = incident(app, incident_id)
    assert (inc.status, inc.confirmed) == ("resolved", False) and inc.resolved_at is not None
    assert "another open incident of this order covers it" in inc.evidence[-1]["fact"]
    assert len(messages(app, audience=Audience.TEAM)) == 1


def test_a_reply_is_stored_promised_an_answer_and_the_team_is_alerted(app, client, shop):
    incident_id, token = status_incident(app, shop)
    _, csrf = open_page(client, token)
    r = client.post(f"/s/{token}/reply", data={"text": "  ¿Podéis enviarlo a otra dirección?\n<b>Gracias</b>  ",
                                                 "csrf": csrf})
    assert r.status_code == 302
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    [reply] = messages(app, purpose=Purpose.REPLY)
    assert (reply.audience, reply.channel, reply.state, reply.sequence) == ("customer", "status_page", "sent", 1)
    assert reply.key == f"incident:{incident_id}:reply:1" and reply.locale == "es"
    assert reply.body_text == "¿Podéis enviarlo a otra dirección?\n<b>Gracias</b>"
    with db(app).session() as s:
        shop_row = s.get(Shop, shop)
        due = promises.reply_due(reply.sent_at, parse_communication(shop_row.policy["communication"])[0],
                                 calendar_of(shop_row))
    assert incident(app, incident_id).reply_due_at == due
    fmt = Formats(Locale.ES, calendar_of_shop(app, shop), datetime.now(UTC))
    page = text_of(html)
    assert "Tu mensaje se ha enviado. Gracias." in page
    assert f"Hemos recibido tu mensaje y te responderemos como muy tarde el {fmt.day(due)} a las {fmt.time(due)}." \
        in page
    assert "Nos escribiste" in page and "&lt;b&gt;Gracias&lt;/b&gt;" in html and "<b>Gracias</b>" not in html
    [alert] = messages(app, audience=Audience.TEAM)
    assert alert.key == f"incident:{incident_id}:team:reply:1" and alert.state == "queued"
    assert "> <b>Gracias</b>" in alert.body_text and "#1001" in alert.body_text and "Snow Devil" in alert.body_text
    assert queued_jobs(app, "notify") == [f"send-{alert.id}"]

    client.post(f"/s/{token}/reply", data={"text": "Y otra cosa", "csrf": csrf})
    assert [m.sequence for m in messages(app, purpose=Purpose.REPLY)] == [1, 2]
    assert [m.key for m in messages(app, audience=Audience.TEAM)] == [
        f"incident:{incident_id}:team:reply:1", f"incident:{incident_id}:team:reply:2"]


def test_a_reply_to_a_shop_that_named_no_team_reaches_its_contact_address_else_nobody(app, client):
    shop = status_shop(app, team=())
    _, token = status_incident(app, shop)
    _, csrf = open_page(client, token)
    assert client.post(f"/s/{token}/reply", data={"text": "Hola", "csrf": csrf}).status_code == 302
    [alert] = messages(app, audience=Audience.TEAM)
    assert alert.to_address == "hola@snowdevil.es"  # the shop's contact address reads it

    with db(app).session() as s:
        shop_row = s.get(Shop, shop)
        shop_row.policy = {**shop_row.policy, "contact": {"email": "", "phone": "", "whatsapp": ""}}
        shop_row.owner_email = None
        s.commit()
    assert client.post(f"/s/{token}/reply", data={"text": "¿Hola?", "csrf": csrf}).status_code == 302
    assert len(messages(app, purpose=Purpose.REPLY)) == 2 and len(messages(app, audience=Audience.TEAM)) == 1


@pytest.mark.parametrize("text, error", [
    ("", "Escribe tu mensaje antes de enviarlo."),
    ("   \n\t ", "Escribe tu mensaje antes de enviarlo."),
    ("a" * 5001, "Tu mensaje supera los 5000 caracteres. Acórtalo y vuelve a enviarlo, por favor."),
])
def test_an_empty_or_too_long_reply_is_refused_and_nothing_is_stored(app, client, shop, text, error):
    incident_id, token = status_incident(app, shop)
    _, csrf = open_page(client, token)
    r = client.post(f"/s/{token}/reply", data={"text": text, "csrf": csrf})
    assert r.status_code == 400 and error in r.get_data(as_text=True)
    if text.strip():
        assert text in r.get_data(as_text=True)  # what was typed is kept, to shorten it
    with db(app).session() as s:
        assert s.execute(select(func.count()).select_from(Message)).scalar_one() == 0
    assert incident(app, incident_id).reply_due_at is None


def test_a_reply_of_exactly_5000_characters_is_taken(app, client, shop):
    _, token = status_incident(app, shop)
    _, csrf = open_page(client, token)
    assert client.post(f"/s/{token}/reply", data={"text": " " + "é" * 5000 + "\n", "csrf": csrf}).status_code == 302
    [reply] = messages(app, purpose=Purpose.REPLY)
    assert reply.body_text == "é" * 5000
