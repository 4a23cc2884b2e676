"""A customer on their phone (Playwright driving Debian's Chromium) follows their incident on the status page:
reads it in Spanish, chooses a compensation, says it is not sorted yet, writes to the shop, switches to
English and says it is sorted after all."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from plugin.app import create_app
from plugin.extensions import db
from plugin.storage.crypto import generate_key
from plugin.storage.models import Message
from plugin.vocabulary import IncidentStatus
from tests.conftest import make_config
from tests.end_to_end.test_browser import DOCS, assert_no_sideways_scroll
from tests.support.browser import launch
from tests.support.pg import _free_port
from tests.support.status import OFFER, status_incident, status_shop
from tests.support.work import start_web

playwright = pytest.importorskip("playwright.sync_api")
PHONE = {"width": 390, "height": 844}
SMALLEST_TAP = 44  # CSS pixels: the smallest target a thumb hits reliably

TAP_TARGETS = """[...document.querySelectorAll('button, a.button')]
    .map(e => e.getBoundingClientRect()).filter(r => r.width > 0).map(r => Math.min(r.width, r.height))"""


@pytest.fixture
def status_server(tmp_path, redis_server, sqlite_url):
    """A real `redress web` with a resolved incident whose customer has a choice of compensation."""
    port, key = _free_port(), generate_key()
    app = create_app(make_config(tmp_path, sqlite_url, redis_server, secret_key="browser-test",
                                 encryption_keys=[key], public_url=f"http://127.0.0.1:{port}"))
    shop = status_shop(app)
    incident_id, token = status_incident(app, shop, offer=OFFER, status=IncidentStatus.RESOLVED)
    env = {**os.environ, "DATABASE_URL": sqlite_url, "REDIS_URL": redis_server,
           "REDRESS_INSTANCE_DIR": str(tmp_path / "instance"), "REDRESS_ENCRYPTION_KEYS": key,
           "REDRESS_SECRET_KEY": "browser-test", "REDRESS_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    web = start_web(env, port)
    yield app, f"http://127.0.0.1:{port}/s/{token}", incident_id
    web.terminate()
    web.wait(10)
    app.extensions["redress.db"].dispose()


@pytest.fixture
def phone():
    with playwright.sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                      locale="es-ES")
        yield context.new_page()
        browser.close()


def messages_of(app, incident_id: int) -> list[Message]:
    with db(app).session() as s:
        return list(s.execute(select(Message).where(Message.incident_id == incident_id).order_by(Message.id)).scalars())


def fits_a_phone(page) -> None:
    assert_no_sideways_scroll(page)
    assert min(page.evaluate(TAP_TARGETS)) >= SMALLEST_TAP


def test_a_customer_chooses_answers_and_writes_on_a_phone_in_spanish_and_english(status_server, phone):
    app, url, incident_id = status_server
    page = phone
    page.goto(url)
    page.get_by_role("heading", name="Pedido #1001").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_text("Es un error nuestro y lo sentimos.").is_visible()
    fits_a_phone(page)
    page.screenshot(path=str(DOCS / "status-page-es.png"), full_page=True)

    page.get_by_role("button", name="Un cupón del 15\u00a0% válido durante 90 días").click()
    page.get_by_role("status").get_by_text("Gracias: hemos recibido tu elección.").wait_for()
    assert page.get_by_text("Elegiste un cupón del 15\u00a0% válido durante 90 días.").is_visible()

    page.get_by_role("button", name="Todavía no").click()
    page.get_by_role("status").get_by_text("Volvemos a ocuparnos de ello.").wait_for()
    assert page.get_by_text("Estamos en ello y te mantendremos al tanto.").is_visible()  # open again

    page.get_by_label("Tu mensaje").fill("El cupón me va bien, pero el pedido sigue sin llegar. <¿Me ayudáis?>")
    page.get_by_role("button", name="Enviar").click()
    page.get_by_role("status").get_by_text("Tu mensaje se ha enviado. Gracias.").wait_for()
    assert page.get_by_text("Hemos recibido tu mensaje y te responderemos como muy tarde el").is_visible()
    assert page.locator("blockquote").inner_text() == ("El cupón me va bien, pero el pedido sigue sin llegar. "
                                                       "<¿Me ayudáis?>")
    fits_a_phone(page)
    page.screenshot(path=str(DOCS / "status-page-es-after.png"), full_page=True)

    page.get_by_role("link", name="English").click()
    page.get_by_role("heading", name="Order #1001").wait_for()
    assert page.get_by_text("You chose a 15% coupon valid for 90 days.").is_visible()
    page.get_by_role("button", name="Yes, all sorted").click()
    page.get_by_role("status").get_by_text("We are glad it is sorted.").wait_for()
    assert page.get_by_text("You told us it is not sorted yet").is_visible()  # the earlier answer stays in the story
    assert page.get_by_text("You told us everything is sorted").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    fits_a_phone(page)
    page.screenshot(path=str(DOCS / "status-page-en.png"), full_page=True)

    kinds = [(m.audience, m.purpose, m.state) for m in messages_of(app, incident_id)]
    assert kinds == [("team", "team_alert", "queued"), ("customer", "reply", "sent"),
                     ("team", "team_alert", "queued")]
