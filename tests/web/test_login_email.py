"""Merchants sign in with a one-time link sent by email, through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import re
import time

import pytest

from plugin.extensions import config
from tests.support import smtp as smtp_server
from tests.support.platforms import connect_woocommerce


@pytest.fixture
def smtp():
    inbox, controller, url = smtp_server.start()
    yield inbox, url
    controller.stop()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_merchant_gets_a_link_by_email_that_signs_in_once(app, client, smtp):
    inbox, url = smtp
    config(app).smtp_url = url
    from plugin.extensions import db
    from plugin.storage.models import Shop

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


def _owner(app, email="owner@shop.example") -> int:
    from plugin.extensions import db
    from plugin.storage.models import Shop

    shop_id, _ = connect_woocommerce(app)
    with db(app).session() as s:
        s.get(Shop, shop_id).owner_email = email
        s.commit()
    return shop_id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_smtp_the_link_is_written_to_the_outbox_and_no_email_is_promised(app, client):
    assert config(app).smtp_url is None
    _owner(app)
    page = client.get("/login").get_data(as_text=True)
    assert "We will email you" not in page and "Email me a link" not in page and "no email server" in page
    answer = client.post("/login", data={"csrf": csrf_of(page), "email": "owner@shop.example"}).get_data(as_text=True)
    assert "on its way" not in answer and "no email was sent" in answer and "outbox" in answer
    [eml] = (config(app).instance_dir / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "owner@shop.example" and message["From"] == "Redress <no-reply@localhost>"
    link = re.search(r"http://127\.0\.0\.1:8000(/login/\S+)", message.get_content()).group(1)
    browser = app.test_client()
    assert browser.get(link).status_code == 302 and browser.get("/settings").status_code == 200

    unknown = client.post("/login", data={"csrf": csrf_of(page), "email": "stranger@example.com"})
    assert unknown.get_data(as_text=True) == answer.replace("owner@shop.example", "stranger@example.com")
    assert len(list((config(app).instance_dir / "outbox").glob("*.eml"))) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_used_link_says_it_was_used_and_offers_a_new_one(app, client):
    from plugin.web import auth

    shop_id = _owner(app)
    with app.test_request_context():
        link = auth.login_link(shop_id).split("127.0.0.1:8000", 1)[1]
    assert client.get(link).status_code == 302
    assert client.get(link).headers.get("Location", "").endswith("/settings")  # the same browser: signed in
    r = app.test_client().get(link)
    page = r.get_data(as_text=True)
    assert r.status_code == 401 and "This sign-in link was already used" in page
    assert 'action="/login"' in page and 'name="email"' in page and "get a new one" in page
    assert "is not valid" in app.test_client().get(link[:-4] + "AAAA").get_data(as_text=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_401_page_links_to_sign_in_and_a_typed_email_survives_an_error(app, client):
    r = client.get("/settings")
    assert r.status_code == 401 and 'href="/login"' in r.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    bad = client.post("/login", data={"csrf": csrf_of(page), "email": "owner@shop"})
    assert bad.status_code == 400 and 'value="owner@shop"' in bad.get_data(as_text=True)
