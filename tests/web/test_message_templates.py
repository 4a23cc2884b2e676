"""The messages page: a merchant reads what customers were sent (the outbox included) and rewrites a message
per purpose and language, previewed live on one of their own incidents, in a sandbox."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from jobs import notify, use_app
from plugin.extensions import config, db
from plugin.messages.compose import check_template, sample_facts
from plugin.storage.models import Incident, Message, Order, Shop
from plugin.vocabulary import Locale
from plugin.web.messages import VARIABLES
from tests.support.platforms import connect_shopify, connect_woocommerce, wake
from tests.web.test_settings import sign_in

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def jobs_use(app):
    use_app(app)


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def late_order(app, shop_id, n=1, email="lucia@example.es"):
    wake(app)  # daytime for the shops: the message goes now, whatever the hour
    now = datetime.now(UTC)
    with db(app).session() as s:
        order = Order(shop_id=shop_id, platform_order_id=str(n), number=f"#{1000 + n}", total=Decimal("50"),
                      shipping=Decimal("5.00"), currency="EUR", customer_email=email,
                      facts={"order_id": str(n), "customer_name": "Lucía Pérez", "locale": "es"})
        s.add(Incident(shop_id=shop_id, order=order, kind="fulfillment_late", responsibility="shop", status="open",
                       evidence=[], opened_at=now, late_since=now - timedelta(days=2), next_message_at=now))
        s.commit()


def test_the_page_previews_ours_on_the_shops_own_incident_and_saves_a_rewrite_that_the_next_message_uses(
        app, client):
    shop_id, _ = connect_shopify(app)
    late_order(app, shop_id)
    sign_in(app, client, shop_id)
    page = client.get("/settings/messages?purpose=opened&lang=es").get_data(as_text=True)
    assert "Es un error nuestro y lo sentimos." in page  # our template, in the editor
    assert "Hola, Lucía:" in html.unescape(page) and "#1001" in page  # previewed on the shop's incident

    mine = "Subject: Lo sentimos, {{ customer_name }}\n\nTu pedido {{ order_number }} va con retraso. Culpa nuestra."
    live = client.post("/settings/messages/preview", data={"csrf": csrf(page), "purpose": "opened", "lang": "es",
                                                           "source": mine}).get_json()
    assert live["problems"] == [] and live["subject"] == "Lo sentimos, Lucía"
    assert "Tu pedido #1001 va con retraso." in live["text"]
    r = client.post("/settings/messages", data={"csrf": csrf(page), "purpose": "opened", "lang": "es",
                                                "source": mine, "action": "save"})
    assert r.status_code == 302

    config(app).smtp_url = None
    notify.due()
    with db(app).session() as s:
        [msg] = s.execute(select(Message)).scalars().all()
        assert msg.subject == "Lo sentimos, Lucía" and "Culpa nuestra." in msg.body_text
        notify.send(msg.id)
    listed = client.get("/settings/messages").get_data(as_text=True)
    assert "Lo sentimos, Lucía" in listed and "(outbox)" in listed
    shown = client.get(f"/settings/messages/{msg.id}").get_data(as_text=True)
    assert "Culpa nuestra." in shown and 'sandbox=""' in shown


def test_a_template_that_reaches_for_the_server_or_is_broken_is_refused_and_nothing_is_saved(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    page = client.get("/settings/messages").get_data(as_text=True)
    for source, says in (
        ("Subject: x\n\n{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
        ("Subject: x\n\n{{ config }}", "'config' is undefined"),
        ("Subject: x\n\n{% if %}", "cannot be used"),
        ("No subject line here", "the first line must be the subject"),
    ):
        live = client.post("/settings/messages/preview", data={"csrf": csrf(page), "purpose": "update",
                                                               "lang": "en", "source": source}).get_json()
        assert live["problems"] and says in live["problems"][0].lower() or says in live["problems"][0]
        r = client.post("/settings/messages", data={"csrf": csrf(page), "purpose": "update", "lang": "en",
                                                    "source": source, "action": "save"})
        assert r.status_code == 400 and "Nothing was saved" in r.get_data(as_text=True)
    with db(app).session() as s:
        assert "templates" not in (s.get(Shop, shop_id).policy or {}) or not s.get(Shop, shop_id).policy["templates"]


def test_going_back_to_our_version_forgets_the_rewrite(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    page = client.get("/settings/messages?purpose=resolved&lang=en").get_data(as_text=True)
    data = {"csrf": csrf(page), "purpose": "resolved", "lang": "en", "source": "Subject: Done\n\nAll done."}
    client.post("/settings/messages", data={**data, "action": "save"})
    assert "your own version" in client.get("/settings/messages?purpose=resolved&lang=en").get_data(as_text=True)
    client.post("/settings/messages", data={**data, "action": "reset"})
    with db(app).session() as s:
        assert s.get(Shop, shop_id).policy["templates"]["en"] == {}


def test_a_shop_sees_only_its_own_messages_and_needs_to_be_signed_in(app, client):
    a, _ = connect_shopify(app)
    b, _ = connect_woocommerce(app)
    late_order(app, b, n=2, email="other@example.com")
    config(app).smtp_url = None
    notify.due()
    with db(app).session() as s:
        theirs = s.execute(select(Message.id)).scalar_one()
    assert client.get("/settings/messages").status_code == 401
    sign_in(app, client, a)
    assert "other@example.com" not in client.get("/settings/messages").get_data(as_text=True)
    assert client.get(f"/settings/messages/{theirs}").status_code == 404
    assert client.post("/settings/messages", data={"purpose": "opened", "lang": "en", "source": "x"}).status_code == 400


def test_every_value_the_editor_lists_can_be_used_in_a_template():
    for name in VARIABLES:
        source = f"Subject: Order {{{{ order_number }}}}\n\n{{{{ {name} }}}}"
        assert check_template("opened", Locale.EN, source, sample_facts()) == [], name
