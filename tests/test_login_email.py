"""Merchants sign in with a one-time link sent by email, through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import re
import time

import pytest
from aiosmtpd.controller import Controller

from plugin import config
from tests.support.pg import _free_port
from tests.support.platforms import connect_woocommerce


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_merchant_gets_a_link_by_email_that_signs_in_once(app, client, smtp):
    inbox, url = smtp
    config(app).smtp_url = url
    from plugin import db
    from plugin.models import Shop

    shop_id, _ = connect_woocommerce(app)
    with db(app).session() as s:
        s.get(Shop, shop_id).owner_email = "owner@shop.example"
        s.commit()
    page = client.get("/login").get_data(as_text=True)
    r = client.post("/login", data={"csrf": csrf_of(page), "email": "Owner@Shop.example"})
    assert r.status_code == 200 and "a sign-in link is on its way" in r.get_data(as_text=True)
    for _ in range(50):
        if inbox.messages:
            break
        time.sleep(0.05)
    [(to, raw)] = inbox.messages
    message = email.message_from_string(raw, policy=email.policy.default)
    assert to == ["owner@shop.example"] and message["Subject"] == "Your Redress sign-in link"
    link = re.search(r"http://127\.0\.0\.1:8000(/login/\S+)", message.get_content()).group(1)
    browser = app.test_client()
    assert browser.get(link).status_code == 302
    assert "Settings for http://127.0.0.1:9" in browser.get("/settings").get_data(as_text=True)
    assert app.test_client().get(link).status_code == 401  # once only


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unknown_address_gets_the_same_answer_and_no_mail(app, client, smtp):
    inbox, url = smtp
    config(app).smtp_url = url
    page = client.get("/login").get_data(as_text=True)
    r = client.post("/login", data={"csrf": csrf_of(page), "email": "stranger@example.com"})
    assert "a sign-in link is on its way" in r.get_data(as_text=True)
    time.sleep(0.2)
    assert inbox.messages == []
    bad = client.post("/login", data={"csrf": csrf_of(page), "email": "nope"})
    assert bad.status_code == 400
    assert client.post("/login", data={"csrf": "forged", "email": "a@b.example"}).status_code == 400
