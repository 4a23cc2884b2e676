"""Customers hear from the shop: from a webhook to a real SMTP server (aiosmtpd), in their language, with
what they were given, once, and never left longer without news than the shop allows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from jobs import notify
from plugin.extensions import config, db, redis_conn
from plugin.messages.compose import check_template, sample_facts
from plugin.storage.models import Incident, Message, Shop
from plugin.storage.queue import queue
from plugin.vocabulary import Locale
from tests.support import smtp as smtp_server
from tests.support.cli import redress
from tests.support.platforms import post_shopify, post_wc, shopify_order, shopify_sample, wake, wc_order
from tests.support.work import incidents, run_worker

ORDER_ID = "820982911946154508"
NOW = datetime.now(UTC).replace(microsecond=0)
LONG_AGO = (NOW - timedelta(days=10)).isoformat()
PAID_LONG_AGO = dict(cancelled_at=None, cancel_reason=None, financial_status="paid", processed_at=LONG_AGO,
                     created_at=LONG_AGO)
# So long ago that, whatever the weekday and holidays, the parcel is late to arrive as well as to leave.
WEEKS_AGO = (NOW - timedelta(days=20)).isoformat()
PAID_WEEKS_AGO = dict(PAID_LONG_AGO, processed_at=WEEKS_AGO, created_at=WEEKS_AGO)


@pytest.fixture
def inbox(app):
    box, controller, url = smtp_server.start()
    config(app).smtp_url = url
    yield box
    controller.stop()


@pytest.fixture
def shopify(app, shopify):
    shopify.add_payable_order(ORDER_ID, total="404.95", shipping="10.00")
    wake(app)
    return shopify


@pytest.fixture
def woo(app, woo):
    wake(app)
    return woo


def set_policy(app, **sections):
    with db(app).session() as s:
        for shop in s.execute(select(Shop)).scalars():
            shop.policy = {**shop.policy, **sections}
        s.commit()


def messages(app) -> list[Message]:
    with db(app).session() as s:
        return list(s.execute(select(Message).order_by(Message.id)).scalars())


def test_a_spanish_customer_of_a_late_shopify_order_gets_one_warm_email_naming_the_refund_and_the_coupon(
        app, client, shopify, inbox):
    set_policy(app, contact={"email": "hola@tienda.example", "phone": "+34 910 000 000",
                             "whatsapp": "+34 600 000 000"})
    post_shopify(client, shopify_order(customer_locale="es-ES", **PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)

    [mail] = inbox.parsed()
    [discount] = shopify.discounts.values()
    code = discount["input"]["code"]
    text, html = smtp_server.text_of(mail), smtp_server.html_of(mail)
    assert mail["To"] == "jon@example.com" and mail["Reply-To"] == "hola@tienda.example"
    assert mail["Subject"] == "Pedido #9999: nos hemos equivocado y lo estamos arreglando"
    assert "Es un error nuestro y lo sentimos." in text
    assert "Te hemos devuelto 10,00 US$ (los gastos de envío)" in text, text
    assert f"usa el código {code} al pagar" in text and "10 % de descuento" in text
    assert "Te volveremos a escribir como muy tarde el" in text and "/s/" in text
    assert "https://wa.me/34600000000" in text and 'style="' in html and "<style" not in html
    assert code in html and "<ul" in html
    [msg] = messages(app)
    assert (msg.purpose, msg.sequence, msg.locale, msg.state, msg.channel) == ("opened", 1, "es", "sent", "email")
    assert sorted(msg.details["compensations"]) == sorted(c.id for c in _incident(app).compensations)


def test_the_same_webhook_three_times_and_repeated_runs_send_one_message(app, client, shopify, inbox):
    for _ in range(3):
        post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
        run_worker(app)
    notify.due()
    notify.due(NOW + timedelta(minutes=10))
    for m in messages(app):
        notify.send(m.id)
    run_worker(app)
    assert len(inbox.messages) == 1
    assert [(m.purpose, m.sequence) for m in messages(app)] == [("opened", 1)]
    assert inbox.parsed()[0]["Subject"] == "Order #9999: our mistake, and what we're doing about it"


def _quiet_now(app) -> datetime:
    """Quiet hours (shop time) around now, so incidents wait to be told; returns when they end."""
    with db(app).session() as s:
        tz = ZoneInfo(s.execute(select(Shop.timezone)).scalars().first())
    start, end = (NOW - timedelta(hours=1)).astimezone(tz), (NOW + timedelta(hours=2)).astimezone(tz)
    set_policy(app, rules=[], communication={"quiet_hours": {"from": f"{start:%H:%M}", "to": f"{end:%H:%M}"}})
    return end.replace(second=0) + timedelta(minutes=1)


def test_many_incidents_due_at_once_are_all_told_in_one_run_and_a_run_out_of_time_hands_on_the_rest(
        app, client, shopify, inbox):
    after_quiet = _quiet_now(app)
    for n in range(5):
        post_shopify(client, shopify_order(id=9_000 + n, name=f"#{9_000 + n}", **PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    assert messages(app) == []  # the quiet hours hold every message back

    first = notify.due(after_quiet, batch_size=2, max_seconds=0)  # out of time after one batch
    assert (first["recorded"], first["more"]) == (2, True)
    assert "jobs.notify.due" in [j.func_name for j in queue(redis_conn(app), "notify").get_jobs()]
    rest = notify.due(after_quiet, batch_size=2)  # the run it asked for: two more batches
    assert (rest["recorded"], rest["more"]) == (3, False)
    assert notify.due(after_quiet, batch_size=2)["recorded"] == 0
    run_worker(app)
    assert [m["To"] for m in inbox.parsed()] == ["jon@example.com"] * 5
    assert [(m.purpose, m.state) for m in messages(app)] == [("opened", "sent")] * 5


def test_messages_due_together_share_one_connection_and_one_the_server_defers_is_tried_again_alone(
        app, client, shopify, inbox):
    after_quiet = _quiet_now(app)
    for n in range(3):
        post_shopify(client, shopify_order(id=9_100 + n, name=f"#{9_100 + n}", email=f"c{n}@example.com",
                                           **PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    inbox.busy_for = {"c1@example.com"}
    assert notify.due(after_quiet)["recorded"] == 3
    [job] = queue(redis_conn(app), "notify").get_jobs()
    assert job.func_name == "jobs.notify.send_many"
    assert notify.send_many(*job.args) == {"sent": 2, "retry": 1}
    assert len(inbox.peers) == 2 and len(set(inbox.peers)) == 1  # one connection for both
    deferred = next(m for m in messages(app) if m.to_address == "c1@example.com")
    assert (deferred.state, deferred.attempts) == ("queued", 1) and "451" in deferred.error
    assert [j.id for j in queue(redis_conn(app), "notify").get_jobs()][-1] == f"send-{deferred.id}"

    inbox.busy_for = set()
    assert notify.send_many(*job.args) == {"sent": 3}  # the same job again sends nothing twice
    assert notify.send(deferred.id) == "sent"
    assert sorted(m["To"] for m in inbox.parsed()) == ["c0@example.com", "c1@example.com", "c2@example.com"]


def test_a_message_the_mail_server_took_late_does_not_push_the_next_update_past_its_promise(
        app, client, shopify, inbox):
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    inbox.refuse = 451  # the mail server defers the first message for hours
    run_worker(app)
    [opened] = messages(app)
    promised = datetime.fromisoformat(opened.details["next_update_at"])
    inbox.refuse = None
    with db(app).session() as s:
        s.get(Message, opened.id).sent_at = opened.created_at + timedelta(hours=5)  # taken at last, 5 h later
        s.get(Message, opened.id).state = "sent"
        s.commit()
    notify.due(promised - timedelta(minutes=29))  # half an hour before the promise, the update goes
    assert [(m.purpose, m.sequence) for m in messages(app)][-1] == ("update", 1)


def test_a_shops_template_that_breaks_on_one_order_leaves_that_customer_our_words_and_the_others_told(
        app, client, shopify, inbox):
    after_quiet = _quiet_now(app)
    broken = "Subject: Order {{ order_number }}\n\n{% if tracking_url|length > 0 %}Track it{% endif %}{{ 1 // 0 }}"
    set_policy(app, templates={"en": {"opened": broken}})
    for n in range(2):
        post_shopify(client, shopify_order(id=9_200 + n, name=f"#{9_200 + n}", **PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    assert notify.due(after_quiet)["recorded"] == 2
    subjects = sorted(m.subject for m in messages(app))
    assert subjects == ["Order #9200: our mistake, and what we're doing about it",
                        "Order #9201: our mistake, and what we're doing about it"]
    assert check_template("opened", Locale.EN, broken, sample_facts())[0].startswith("The opened template (en)")


def test_a_database_that_fails_while_a_message_is_recorded_leaves_the_customer_due_not_set_aside(
        app, client, shopify, inbox):
    after_quiet = _quiet_now(app)
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    engine = db(app).engine
    broken = []

    def lose_the_connection(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO messages") and not broken:
            broken.append(statement)  # the real failure: PostgreSQL ends the session, SQLite refuses the write
            lost = ("SELECT pg_terminate_backend(pg_backend_pid())" if engine.dialect.name == "postgresql"
                    else "INSERT INTO table_gone_with_the_outage VALUES (1)")
            return lost, ()
        return statement, parameters

    event.listen(engine, "before_cursor_execute", lose_the_connection, retval=True)
    try:
        assert notify.due(after_quiet) == {"recorded": 0, "resent": 0, "more": False}
    finally:
        event.remove(engine, "before_cursor_execute", lose_the_connection)
    assert broken and messages(app) == []
    with db(app).session() as s:
        [incident] = s.execute(select(Incident)).scalars()
    due_at = incident.next_message_at.replace(tzinfo=incident.next_message_at.tzinfo or UTC)
    assert due_at <= after_quiet  # still due, not put off for 15 minutes
    assert notify.due(after_quiet)["recorded"] == 1  # the next run tells the customer
    run_worker(app)
    assert [m["To"] for m in inbox.parsed()] == ["jon@example.com"]


def test_with_no_mail_server_messages_land_in_the_outbox_once(app, client, shopify):
    config(app).smtp_url = None
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    [msg] = messages(app)
    notify.send(msg.id)  # a second run of the same job
    files = list(config(app).outbox_dir.glob("*.eml"))
    assert len(files) == 1 and (msg.channel, msg.state) == ("outbox", "sent")
    assert "Subject: Order #9999: our mistake" in files[0].read_text()


def test_a_mail_server_that_fails_for_a_while_gets_the_message_later_and_a_refusal_is_recorded(
        app, client, shopify, inbox):
    inbox.refuse = 451
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)  # the send job fails and is scheduled again with back-off
    [msg] = messages(app)
    assert msg.state == "queued" and "451" in msg.error and inbox.messages == []
    inbox.refuse = None
    assert notify.send(msg.id) == "sent" and len(inbox.messages) == 1
    # A mailbox that does not exist is refused for good: recorded, not retried for ever.
    with db(app).session() as s:
        s.add(Message(shop_id=msg.shop_id, incident_id=None, key="test:refused", audience="customer",
                      purpose="update", sequence=1, channel="email", to_address="nobody@example.com",
                      subject="x", body_text="x", state="queued"))
        s.commit()
        refused = s.execute(select(Message.id).where(Message.key == "test:refused")).scalar_one()
    inbox.refuse = 550
    assert notify.send(refused) == "failed"


def test_a_week_without_news_brings_updates_no_further_apart_than_the_longest_silence(app, client, shopify, inbox):
    set_policy(app, communication={"max_silence_hours": 48, "quiet_hours": {"from": "22:00", "to": "08:00"}})
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    clock = NOW
    while clock < NOW + timedelta(days=7):
        clock += timedelta(minutes=30)
        notify.due(clock)
        for m in messages(app):
            if m.state == "queued":
                notify.send(m.id)
    sent = messages(app)
    assert [m.purpose for m in sent] == ["opened"] + ["update"] * (len(sent) - 1) and len(sent) >= 4
    times = [m.created_at for m in sent]
    assert all(b - a <= timedelta(hours=48) for a, b in zip(times, times[1:], strict=False))
    last = inbox.parsed()[-1]
    assert "no news of your order #9999 yet" in smtp_server.text_of(last)
    assert "Our next update will reach you by" in smtp_server.text_of(last)


def _fulfillment(client, shipment_status: str | None, at: datetime) -> None:
    f = shopify_sample("fulfillments_update")
    f.update(status="success", shipment_status=shipment_status, created_at=NOW.isoformat(), updated_at=at.isoformat(),
             tracking_url="https://ups.example/1Z999")
    post_shopify(client, f, topic="fulfillments/update")


def test_a_late_shipment_is_owned_then_the_delivery_closes_the_story_with_one_question(app, client, shopify, inbox):
    post_shopify(client, shopify_order(**PAID_WEEKS_AGO), topic="orders/paid")
    run_worker(app)
    _fulfillment(client, None, NOW)
    run_worker(app)
    # The handover incident is resolved; the late delivery it causes carries the story on, with no
    # "all sorted" in between.
    assert [(m.incident_id, m.purpose) for m in messages(app)] == [(1, "opened"), (2, "opened")]
    text = smtp_server.text_of(inbox.parsed()[-1])
    assert "Your order #9999 is on its way with UPS, but it left us later than it should have" in text
    assert "That is our mistake" in text and "You can follow it at https://ups.example/1Z999." in text

    _fulfillment(client, "delivered", NOW + timedelta(minutes=5))
    run_worker(app)
    assert [m.purpose for m in messages(app)][-1] == "resolved"
    text = smtp_server.text_of(inbox.parsed()[-1])
    assert "Your parcel was delivered on" in text and "Is everything sorted for you?" in text
    assert "As we mentioned, we refunded $10.00 and your code SORRY-" in text


def test_a_woocommerce_order_placed_in_spanish_is_written_to_in_spanish(app, client, woo, inbox):
    old = (NOW - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S")
    post_wc(client, woo.shop_id, wc_order(date_created_gmt=old, date_paid_gmt=old, date_modified_gmt=old,
                                      meta_data=[{"id": 1, "key": "wpml_language", "value": "es"}]))
    run_worker(app)
    [mail] = inbox.parsed()
    assert mail["Subject"].startswith("Pedido #") and "Hola" in smtp_server.text_of(mail)


def test_a_customer_without_an_address_is_not_written_to(app, client, shopify, inbox):
    post_shopify(client, shopify_order(email=None, contact_email=None, customer=None, **PAID_LONG_AGO),
                 topic="orders/paid")
    run_worker(app)
    assert messages(app) == [] and inbox.messages == []


def _incident(app) -> Incident:
    with db(app).session() as s:
        inc = s.execute(select(Incident)).scalar_one()
        _ = inc.compensations
        return inc


def test_the_incident_json_and_messages_list_show_what_the_customer_was_told_and_promised(
        app, client, shopify, inbox):
    post_shopify(client, shopify_order(customer_locale="es", **PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    [inc] = json.loads(redress(app, "incidents", "list", "--json").stdout)
    [msg] = inc["messages"]
    assert msg == {"id": msg["id"], "audience": "customer", "purpose": "opened", "channel": "email",
                   "to": "jon@example.com", "locale": "es", "subject": inbox.parsed()[0]["Subject"],
                   "state": "sent", "sent_at": msg["sent_at"]}
    customer = inc["customer"]
    assert customer["locale"] == "es" and customer["last_message_at"] == msg["sent_at"]
    token = customer["status_url"].rsplit("/s/", 1)[1]
    assert customer["status_url"] == f"{config(app).public_url}/s/{token}" and len(token) > 20
    last = datetime.fromisoformat(customer["last_message_at"].replace("Z", "+00:00"))
    due = datetime.fromisoformat(customer["next_update_due_at"].replace("Z", "+00:00"))
    assert due - last == timedelta(hours=72) or timedelta(hours=62) <= due - last < timedelta(hours=72)
    assert (customer["offer"], customer["confirmed"], customer["confirmed_at"]) == (None, None, None)

    listed = json.loads(redress(app, "messages", "list", "--incident", str(inc["id"]), "--json").stdout)
    assert [m["id"] for m in listed] == [msg["id"]] and listed[0]["incident_id"] == inc["id"]
    assert json.loads(redress(app, "messages", "list", "--shop", "999", "--json").stdout) == []


OFFER_RULE = {"name": "Shop fault: the customer chooses",
              "when": {"responsibility": ["shop"], "kind": ["fulfillment_late", "pickup_late", "order_cancelled"]},
              "then": [{"action": "offer", "options": [{"action": "refund_shipping"},
                                                       {"action": "coupon_percent", "percent": "15",
                                                        "valid_days": 90}],
                        "default_after_days": 7}]}


def test_a_spanish_customer_chooses_the_coupon_on_the_page_gets_it_by_email_and_the_team_reads_their_reply(
        app, client, shopify, inbox):
    with db(app).session() as s:
        shop = s.execute(select(Shop)).scalar_one()
        shop.policy = {**shop.policy, "rules": [OFFER_RULE, *shop.policy["rules"][1:]],
                       "caps": {"per_order_percent_of_total": "30", "approval_above": "100"},
                       "communication": {"team_emails": ["equipo@tienda.example"]}}
        s.commit()
    post_shopify(client, shopify_order(customer_locale="es", **PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    [first] = inbox.parsed()
    text = smtp_server.text_of(first)
    assert "puedes elegir:" in text and "- que te devolvamos 10,00 US$ (los gastos de envío)" in text
    assert "- un 15 % de descuento en tu próximo pedido, válido durante 90 días." in text
    link = re.search(r"Elige la que prefieras en la página de tu pedido: (\S+)", text).group(1).rstrip(".")
    assert shopify.discounts == {} and shopify.refunds_of(ORDER_ID) == []  # nothing is given before the choice

    page = client.get(link.split("127.0.0.1:8000", 1)[1])
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    path = link.split("127.0.0.1:8000", 1)[1]
    assert client.post(f"{path}/offer", data={"option": "1", "csrf": csrf}).status_code == 302
    run_worker(app)
    [discount] = shopify.discounts.values()
    code = discount["input"]["code"]
    second = inbox.parsed()[1]
    assert second["Subject"] == "Pedido #9999: tu código de descuento"
    assert f"Un 15 % de descuento en tu próximo pedido: usa el código {code} al pagar" in smtp_server.text_of(second)

    assert client.post(f"{path}/reply", data={"text": "¿Puedo usarlo en rebajas?", "csrf": csrf}).status_code == 302
    run_worker(app)
    [alert] = [m for m in inbox.parsed() if m["To"] == "equipo@tienda.example"]
    assert "¿Puedo usarlo en rebajas?" in smtp_server.text_of(alert)
    listed = json.loads(redress(app, "messages", "list", "--json").stdout)
    assert [(m["audience"], m["purpose"]) for m in listed] == [
        ("customer", "opened"), ("customer", "compensation"), ("customer", "reply"), ("team", "team_alert")]


def test_an_english_customer_of_a_parcel_the_carrier_went_quiet_on_hears_the_carriers_facts_and_writes_back(
        app, client, shopify, inbox):
    handed = NOW - timedelta(days=6)
    paid = dict(PAID_LONG_AGO, processed_at=(handed - timedelta(days=1)).isoformat(),
                created_at=(handed - timedelta(days=1)).isoformat())
    post_shopify(client, shopify_order(customer_locale="en-US", **paid), topic="orders/paid")
    f = shopify_sample("fulfillments_update")
    f.update(status="success", shipment_status="in_transit", created_at=handed.isoformat(),
             updated_at=handed.isoformat())
    post_shopify(client, f, topic="fulfillments/update")
    run_worker(app)
    [mail] = inbox.parsed()
    text = smtp_server.text_of(mail)
    [discount] = shopify.discounts.values()
    assert mail["Subject"] == "Order #9999: an update on your parcel"
    assert "UPS has your parcel, but hasn't reported any movement since" in text
    assert "our mistake" not in text.lower() and "you" in text  # the carrier's facts, no blame on anyone present
    assert f"use the code {discount['input']['code']} at checkout" in text and "A 5% discount" in text

    path = re.search(r"(/s/\S+)", text).group(1)
    page = client.get(path).get_data(as_text=True)
    assert '<html lang="en">' in page and discount["input"]["code"] in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post(f"{path}/reply", data={"text": "It says delivered but nothing here.", "csrf": csrf})
    with db(app).session() as s:
        [reply] = s.execute(select(Message).where(Message.purpose == "reply")).scalars().all()
        assert (reply.channel, reply.locale, reply.body_text) == ("status_page", "en",
                                                                 "It says delivered but nothing here.")


def test_a_message_the_mail_server_keeps_deferring_is_marked_failed_after_the_last_attempt(
        app, client, shopify, inbox):
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    inbox.refuse = 451
    run_worker(app)
    [msg] = messages(app)
    assert (msg.state, msg.attempts) == ("queued", 1)  # deferred: the queue tries again with back-off
    for _ in range(notify.GIVE_UP_AFTER - 2):
        with pytest.raises(Exception, match="451"):
            notify.send(msg.id)
    assert notify.send(msg.id) == "failed"  # the last attempt gives up instead of leaving it queued forever
    [msg] = messages(app)
    assert (msg.state, msg.attempts) == ("failed", notify.GIVE_UP_AFTER) and "451" in msg.error
    assert notify.due(datetime.now(UTC) + timedelta(hours=3))["resent"] == 0


def test_a_message_whose_worker_died_after_trying_it_is_found_and_sent_again(app, client, shopify, inbox):
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    inbox.refuse = 451
    run_worker(app)
    redis_conn(app).flushdb()  # the worker and its retry are gone with the queue
    inbox.refuse = None
    assert notify.due(datetime.now(UTC) + timedelta(minutes=30))["resent"] == 0  # maybe still in back-off
    assert notify.due(datetime.now(UTC) + notify.STALLED_AFTER + timedelta(minutes=1))["resent"] == 1
    run_worker(app)
    [msg] = messages(app)
    assert (msg.state, msg.attempts) == ("sent", 2)
    assert [m["To"] for m in inbox.parsed()] == ["jon@example.com"]


def test_not_yet_after_the_delivery_leaves_it_to_the_team_and_updates_speak_of_the_teams_work(
        app, client, shopify, inbox):
    post_shopify(client, shopify_order(**PAID_WEEKS_AGO), topic="orders/paid")
    run_worker(app)
    _fulfillment(client, None, NOW)
    _fulfillment(client, "delivered", NOW + timedelta(minutes=5))
    run_worker(app)
    path = re.search(r"(/s/\S+)", smtp_server.text_of(inbox.parsed()[-1])).group(1).rstrip(".")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)
    assert client.post(f"{path}/confirm", data={"answer": "no", "csrf": csrf}).status_code == 302
    run_worker(app)
    told = len([m for m in messages(app) if m.audience == "customer"])

    _fulfillment(client, "delivered", NOW + timedelta(minutes=5))  # the same delivery, seen again
    run_worker(app)
    reopened = [i for i in incidents(app) if i["status"] == "open"]
    assert len(reopened) == 1  # the facts do not close what the customer says is not sorted
    assert len([m for m in messages(app) if m.audience == "customer"]) == told  # no second "all sorted"

    for m in messages(app):  # a week on, the customer still hears within the longest silence
        if m.state == "queued":
            notify.send(m.id)
    notify.due(datetime.now(UTC) + timedelta(hours=72))
    run_worker(app)
    [update] = [m for m in messages(app) if m.purpose == "update"]
    text = smtp_server.text_of(inbox.parsed()[-1])
    assert "that your order #9999 still isn't sorted" in text
    assert "Our team has your message and is looking into it" in text
    assert "hasn't reported anything new" not in text and "Our next update will reach you by" in text
    assert update.details["next_update_at"] is not None


def test_without_an_address_for_replies_messages_never_ask_the_customer_to_reply_to_the_email(
        app, client, shopify, inbox):
    set_policy(app, contact={"phone": "+34 910 000 000"})
    post_shopify(client, shopify_order(financial_status="voided", **{k: v for k, v in PAID_LONG_AGO.items()
                                                                     if k != "financial_status"}),
                 topic="orders/updated")
    run_worker(app)
    [mail] = inbox.parsed()
    text = smtp_server.text_of(mail)
    assert "didn't go through" in text and "reply to this e-mail" not in text
    assert re.search(r"write to us at http\S+/s/\S+ and we'll help you finish it", text)
    assert mail["Reply-To"] is None

    set_policy(app, contact={"email": "hola@tienda.example"})
    with db(app).session() as s:
        msg = s.execute(select(Message)).scalar_one()
        inc = s.get(Incident, msg.incident_id)
        from plugin.messages.record import preview
        again = preview(inc, inc.order.shop, "opened", Locale.EN, None, "https://x.example/s/t", NOW)
    assert "just reply to this e-mail and we'll help you finish it" in again.text
