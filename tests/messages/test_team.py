"""The shop's team hears what needs a person: one digest a day (never an empty one) and, where the shop set
one, its chat's incoming webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from jobs import notify, use_app
from plugin.extensions import config, db
from plugin.messages.team import alert_team
from plugin.storage.models import Compensation, Incident, Message, Order, Shop
from tests.support import smtp as smtp_server
from tests.support.platforms import connect_shopify, wake

MORNING = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)  # the shop is on UTC


@pytest.fixture
def inbox(app):
    use_app(app)
    box, controller, url = smtp_server.start()
    config(app).smtp_url = url
    yield box
    controller.stop()


def shop_with_team(app, emails=("ops@tienda.example",), webhook=""):
    shop_id, _ = connect_shopify(app)
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        shop.policy = {**shop.policy, "communication": {"team_emails": list(emails), "team_webhook_url": webhook}}
        s.commit()
    return shop_id


def lost_parcel_waiting_for_approval(app, shop_id, opened=MORNING - timedelta(hours=3)):
    with db(app).session() as s:
        order = Order(shop_id=shop_id, platform_order_id="77", number="#1077", total=Decimal("80"),
                      currency="EUR", customer_email="ana@example.es", facts={})
        inc = Incident(shop_id=shop_id, order=order, kind="lost", responsibility="carrier", status="awaiting_approval",
                       evidence=[], opened_at=opened, late_since=opened)
        inc.compensations.append(Compensation(action="refund_percent", percent=Decimal(100), amount=Decimal("80"),
                                              currency="EUR", state="awaiting_approval", idempotency_key="k-77"))
        s.add(inc)
        s.commit()


def team_messages(app) -> list[Message]:
    with db(app).session() as s:
        return list(s.execute(select(Message).where(Message.audience == "team")).scalars())


def test_one_digest_a_morning_lists_what_waits_for_the_team(app, inbox):
    shop_id = shop_with_team(app)
    lost_parcel_waiting_for_approval(app, shop_id)
    assert notify.digest(MORNING - timedelta(hours=1))["digests"] == 0  # 07:30: not yet
    assert notify.digest(MORNING)["digests"] == 1
    assert notify.digest(MORNING + timedelta(hours=3))["digests"] == 0  # once a day
    [digest] = team_messages(app)
    notify.send(digest.id)
    [mail] = inbox.parsed()
    assert mail["To"] == "ops@tienda.example"
    assert mail["Subject"] == "snowdevil.myshopify.com: 1 new incidents, 1 waiting for you"
    text = smtp_server.text_of(mail)
    assert "Compensations waiting for your approval" in text and "refund percent 80.00 EUR for order #1077" in text
    assert "New incidents:\n- 1 lost" in text
    assert notify.digest(MORNING + timedelta(days=1))["digests"] == 1  # the next morning, still waiting


def test_no_digest_for_a_quiet_day_or_a_shop_without_team_addresses(app, inbox):
    quiet = shop_with_team(app)
    assert notify.digest(MORNING)["digests"] == 0
    with db(app).session() as s:
        shop = s.get(Shop, quiet)
        shop.policy = {**shop.policy, "communication": {"team_emails": []}}
        s.commit()
    lost_parcel_waiting_for_approval(app, quiet)
    assert notify.digest(MORNING)["digests"] == 0 and team_messages(app) == []


def test_a_customers_words_reach_the_team_chat_as_plain_text(app, httpserver):
    shop_id = shop_with_team(app, webhook="https://hooks.example/placeholder")
    lost_parcel_waiting_for_approval(app, shop_id)
    with db(app).session() as s:
        inc = s.execute(select(Incident)).scalar_one()
        [_, chat] = alert_team(s, inc, "reply", "<!channel> <https://evil.example/login|Sign in again> & more",
                               MORNING)
        s.commit()
    assert "<!channel>" not in chat.body_text and "&lt;!channel&gt;" in chat.body_text
    assert "&lt;https://evil.example/login|Sign in again&gt; &amp; more" in chat.body_text


def _webhook_message(app, shop_id, url) -> int:
    with db(app).session() as s:
        msg = Message(shop_id=shop_id, key=f"test:webhook:{url}", audience="team", purpose="team_alert",
                      sequence=1, channel="webhook", to_address=url, locale="en", subject="x",
                      body_text="Order #1077: the customer says it is not sorted yet", state="queued")
        s.add(msg)
        s.commit()
        return msg.id


def test_the_team_chat_gets_the_alert_and_a_removed_webhook_is_not_tried_for_ever(app, inbox, httpserver):
    shop_id = shop_with_team(app)
    config(app).allow_private_stores = True  # a local stand-in for Slack
    httpserver.expect_request("/hooks/ok", method="POST").respond_with_data("ok")
    httpserver.expect_request("/hooks/gone", method="POST").respond_with_data("no_service", status=410)
    httpserver.expect_request("/hooks/busy", method="POST").respond_with_data("busy", status=503)
    assert notify.send(_webhook_message(app, shop_id, httpserver.url_for("/hooks/ok"))) == "sent"
    posted = [r for r, _ in httpserver.log if r.path == "/hooks/ok"]
    assert posted[0].get_json() == {"text": "Order #1077: the customer says it is not sorted yet"}
    assert notify.send(_webhook_message(app, shop_id, httpserver.url_for("/hooks/gone"))) == "failed"
    busy = _webhook_message(app, shop_id, httpserver.url_for("/hooks/busy"))
    with pytest.raises(Exception, match="503"):
        notify.send(busy)  # the queue tries again later
    config(app).allow_private_stores = False
    plain = _webhook_message(app, shop_id, "http://hooks.example/plain")
    assert notify.send(plain) == "failed"  # only https outside development


@pytest.mark.parametrize("url", ["https://127.0.0.1/hooks", "https://localhost:8443/hooks", "https://10.1.2.3/x",
                                 "https://169.254.169.254/latest/meta-data/", "https://[::1]/x"])
def test_a_team_webhook_is_never_posted_to_the_servers_own_network(app, inbox, url):
    shop_id = shop_with_team(app)
    config(app).allow_private_stores = False  # as in production
    msg = _webhook_message(app, shop_id, url)
    assert notify.send(msg) == "failed"  # refused before any request leaves
    with db(app).session() as s:
        assert "private address" in s.get(Message, msg).error


def _set(app, **values):
    with db(app).session() as s:
        for inc in s.execute(select(Incident)).scalars():
            for k, v in values.items():
                setattr(inc, k, v)
        s.commit()


def test_a_compensation_waiting_for_approval_is_told_to_the_team_once(app, inbox):
    shop_id = shop_with_team(app, webhook="https://hooks.example/T000/B000/XXX")
    lost_parcel_waiting_for_approval(app, shop_id)
    now = datetime.now(UTC)
    _set(app, next_message_at=now)
    notify.due(now)
    notify.due(now + timedelta(minutes=5))
    alerts = [m for m in team_messages(app) if m.details.get("reason") == "approval"]
    assert sorted(m.channel for m in alerts) == ["email", "webhook"]
    assert all(m.subject == "snowdevil.myshopify.com, order #1077: a compensation waits for your approval"
               for m in alerts)
    assert [m.to_address for m in alerts if m.channel == "webhook"] == ["https://hooks.example/T000/B000/XXX"]


def test_an_answer_about_to_be_late_is_told_to_the_team_two_hours_before(app, inbox):
    shop_id = shop_with_team(app)
    wake(app)  # the customer's own update, due now, is not held until morning
    now = datetime.now(UTC).replace(microsecond=0)
    lost_parcel_waiting_for_approval(app, shop_id)
    with db(app).session() as s:
        s.execute(Compensation.__table__.update().values(state="cancelled"))
        s.commit()
    _set(app, status="open", reply_due_at=now + timedelta(hours=5), next_message_at=now)
    notify.due(now)
    assert [m for m in team_messages(app) if m.details.get("reason") == "promise"] == []
    with db(app).session() as s:
        assert s.execute(select(Incident.next_message_at)).scalar_one() == now + timedelta(hours=3)
    notify.due(now + timedelta(hours=3))
    notify.due(now + timedelta(hours=4))
    [promise] = [m for m in team_messages(app) if m.details.get("reason") == "promise"]
    assert "the answer promised to the customer is due soon" in promise.subject


def test_a_flood_of_approvals_is_left_to_the_digest_after_five_an_hour(app, inbox):
    shop_id = shop_with_team(app)
    now = datetime.now(UTC)
    with db(app).session() as s:
        for n in range(7):
            order = Order(shop_id=shop_id, platform_order_id=f"9{n}", number=f"#20{n}", total=Decimal("80"),
                          currency="EUR", customer_email=None, facts={})
            inc = Incident(shop_id=shop_id, order=order, kind="lost", responsibility="carrier",
                           status="awaiting_approval", evidence=[], opened_at=now, late_since=now, next_message_at=now)
            inc.compensations.append(Compensation(action="refund_percent", percent=Decimal(100), amount=Decimal(80),
                                                  currency="EUR", state="awaiting_approval", idempotency_key=f"f{n}"))
            s.add(inc)
        s.commit()
    notify.due(now)
    assert len(team_messages(app)) == 5
    assert notify.digest(now.replace(hour=9) if now.hour < 9 else now)["digests"] == 1
