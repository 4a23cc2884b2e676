"""The front page offers the demo only on an instance with no shops of its own, and its routes refuse
everything else: a real shop beside it, a missing form token, a desk before the demo is ready."""

from __future__ import annotations

import json
import re
import time

import pytest

from plugin.config import Config, ConfigError
from plugin.demo.run import START_KEY, STATE_KEY
from plugin.extensions import config, redis_conn
from tests.support.platforms import connect_shopify

BUTTON = "Try it with a demo store"


def _csrf(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_an_empty_instance_offers_the_demo_in_the_visitors_language(client):
    assert BUTTON in client.get("/").get_data(as_text=True)
    spanish = client.get("/", headers={"Accept-Language": "es-ES,es;q=0.9"}).get_data(as_text=True)
    assert "Pruébalo con una tienda de demostración" in spanish


def test_an_instance_with_a_shop_of_its_own_never_offers_or_starts_the_demo(app, client):
    token = _csrf(client)
    connect_shopify(app)
    assert BUTTON not in client.get("/").get_data(as_text=True)
    r = client.post("/demo", data={"csrf": token})
    assert r.status_code == 409 and "shops of its own" in r.get_data(as_text=True)
    redis_conn(app).set(STATE_KEY, json.dumps({"stage": "done", "shops": {"shopify": 1}}))
    assert client.post("/demo/desk/shopify", data={"csrf": token}).status_code == 409  # a real shop: no sign-in
    assert client.get("/incidents").status_code == 401


def test_an_operator_who_turned_the_demo_off_offers_it_to_nobody(app, client, tmp_path, monkeypatch):
    token = _csrf(client)
    config(app).demo = False
    page = client.get("/").get_data(as_text=True)
    assert BUTTON not in page and 'action="/demo"' not in page
    assert client.post("/demo", data={"csrf": token}).status_code == 404
    assert redis_conn(app).get(STATE_KEY) is None  # nothing started

    for word, on in [("off", False), ("0", False), ("on", True), ("", True)]:
        monkeypatch.setenv("REDRESS_DEMO", word)
        assert Config.from_env(instance_dir=tmp_path).demo is on
    monkeypatch.setenv("REDRESS_DEMO", "maybe")
    with pytest.raises(ConfigError, match="REDRESS_DEMO must be on or off"):
        Config.from_env(instance_dir=tmp_path)


def test_the_demo_routes_want_the_form_token_and_a_finished_demo(app, client):
    assert client.post("/demo", data={}).status_code == 400
    token = _csrf(client)
    assert client.post("/demo/desk/shopify", data={"csrf": token}).status_code == 409
    assert client.get("/demo").status_code == 302  # nothing running: back to the front page


def test_after_a_failed_demo_the_front_page_offers_it_again(app, client):
    redis_conn(app).set(STATE_KEY, json.dumps({"stage": "failed", "error": "nothing has moved for 90 s"}))
    assert BUTTON in client.get("/").get_data(as_text=True)
    page = client.get("/demo").get_data(as_text=True)
    assert "nothing has moved for 90 s" in page and "Try again" in page


def test_a_demo_that_died_without_a_word_is_shown_as_failed_and_offered_again(app, client):
    conn = redis_conn(app)
    conn.set(START_KEY, "1")
    conn.set(STATE_KEY, json.dumps({"stage": "replaying", "line": "12/44 sent", "at": time.time() - 200}))
    assert "12/44 sent" in client.get("/demo").get_data(as_text=True)  # alive: its progress
    assert BUTTON not in client.get("/").get_data(as_text=True)

    conn.set(STATE_KEY, json.dumps({"stage": "replaying", "line": "12/44 sent", "at": time.time() - 301}))
    page = client.get("/demo").get_data(as_text=True)
    assert "stopped without a word for 300 s" in page and "demo.log" in page and "Try again" in page
    assert BUTTON in client.get("/").get_data(as_text=True)
    assert conn.get(START_KEY) is None  # the button may start another


def test_the_demo_shops_settings_can_be_previewed_but_never_saved(app, client):
    from plugin.demo.day import DEMO_OWNER
    from plugin.extensions import db
    from plugin.storage.models import Shop
    from tests.web.test_settings import form_of, sign_in

    shop_id, _ = connect_shopify(app)
    with db(app).session() as s:
        s.get(Shop, shop_id).owner_email = DEMO_OWNER
        s.commit()
    sign_in(app, client, shop_id)
    data = form_of(client.get("/settings").get_data(as_text=True))
    data["owner-email"] = ["visitor@elsewhere.example"]
    assert client.post("/settings", data={**data, "intent": "preview"}).status_code == 200
    refused = client.post("/settings", data={**data, "intent": "save"})
    assert refused.status_code == 403 and "can be tried with Preview but not saved" in refused.get_data(as_text=True)
    with db(app).session() as s:
        assert s.get(Shop, shop_id).owner_email == DEMO_OWNER
