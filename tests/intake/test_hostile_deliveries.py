"""Properly signed but hostile deliveries, through the real endpoint and the real worker: never a 5xx, never
a delivery left pending, never a crashed worker, and a good delivery sent after them is processed."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from plugin.extensions import db
from plugin.storage.models import WebhookDelivery
from tests.support.hostile import budget, hostile_values, keyed_objects, paths, sample, spoiled
from tests.support.platforms import connect_shopify, connect_woocommerce, post_shopify, post_wc, shopify_order
from tests.support.work import deliveries, incidents, run_worker

SHOPIFY_ORDER = sample("shopify", "orders_create.json")
WC_ORDER = sample("woocommerce", "synthetic_webhook_order_updated.body.json")
KEYS = sorted({str(p[-1]) for doc in (SHOPIFY_ORDER, WC_ORDER) for p in paths(doc) if isinstance(p[-1], str)})

# Bodies no platform sends, each with the reason the endpoint gives.
REFUSED = {
    b"[" * 50_000 + b"]" * 50_000: "body nests deeper than 64 levels",
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000: "body nests deeper than 64 levels",
    b'{"a":' * 100 + b"1" + b"}" * 100: "body nests deeper than 64 levels",
    b'{"id": 1, "total_price": NaN}': "body uses NaN, which JSON does not allow",
    b'{"id": 1, "total_price": -Infinity}': "body uses -Infinity, which JSON does not allow",
    b'{"id": ' + b"9" * 5000 + b"}": "body is not valid JSON",
    b'{"id": 1, "note": "caf\xe9"}': "body is not UTF-8 text",
    b"\xff\xfe{}": "body is not UTF-8 text",
    b'{"id": 1,}': "body is not valid JSON",
    b"": "body is not valid JSON",
    b"[1, 2]": "body is a list, not a JSON object",
    b'"order"': "body is a string, not a JSON object",
    b"null": "body is null, not a JSON object",
    b"1e400": "body is a number, not a JSON object",
}
# Valid JSON objects whose values are nonsense: stored (200), then refused by the worker with a reason.
ACCEPTED = [
    b'{"id": 1, "total_price": 1e400}',
    b'{"id": 1, "id": {"nested": true}, "id": 1001}',
    b'{"id": 1, "note": "a\\u0000b", "email": "\\ud800@example.com"}',
    b'{"id": "' + "🦆".encode() * 10_000 + b'"}',
    b'{"id": 1, "line_items": ' + b"[" * 60 + b"]" * 60 + b"}",
    b"{}",
]


def _good(app_client, n: int):
    """A real declined order: the worker must still turn it into an incident."""
    return post_shopify(app_client, shopify_order(id=n, name=f"#{n}", cancel_reason="declined"))


def _nothing_pending(app) -> None:
    pending = [(d.id, d.error) for d in deliveries(app) if d.processed_at is None]
    assert pending == [], "deliveries left pending"


@pytest.mark.parametrize("body", list(REFUSED), ids=[r[:40] for r in REFUSED.values()])
def test_a_signed_body_that_is_not_a_json_object_is_refused_with_its_reason(app, client, body):
    connect_shopify(app)
    r = post_shopify(client, body)
    assert r.status_code == 400 and REFUSED[body] in r.get_json()["status"]
    assert deliveries(app) == []  # nothing stored


def test_a_hostile_body_with_a_bad_signature_is_refused_before_it_is_read(app, client):
    connect_shopify(app)
    r = post_shopify(client, b"[" * 50_000, headers={"X-Shopify-Hmac-Sha256": "bm9wZQ=="})
    assert r.status_code == 401


def test_hostile_objects_are_stored_refused_by_the_worker_and_never_block_a_good_order(app, client):
    shop_id, _ = connect_shopify(app)
    woo_id, _ = connect_woocommerce(app)
    for body in ACCEPTED:
        assert post_shopify(client, body).status_code == 200
        assert post_wc(client, woo_id, body).status_code == 200
    assert _good(client, 777001).status_code == 200
    run_worker(app)
    _nothing_pending(app)
    refused = [d for d in deliveries(app) if d.error]
    assert all(d.error.startswith("PayloadError: ") for d in refused)  # each with its reason, done with
    assert sum(d.platform == "shopify" for d in refused) == len(ACCEPTED) - 1  # all but the duplicated id
    assert [i["order"]["number"] for i in incidents(app, shop_id=shop_id)] == ["#777001"]


def _encoded(doc) -> bytes:
    return json.dumps(doc).encode("utf-8", "surrogatepass")  # NaN, Infinity and lone surrogates included


hostile_bodies = st.one_of(
    spoiled(SHOPIFY_ORDER, changes=4).map(_encoded),
    keyed_objects(KEYS).map(_encoded),
    st.dictionaries(st.sampled_from(KEYS), hostile_values).map(_encoded),
    st.binary(max_size=200),
)


def _shops(app) -> int:
    """Both shops, connected once for all the examples (they share the app fixture); the WooCommerce id."""
    from sqlalchemy import select

    from plugin.storage.models import Shop

    with db(app).session() as s:
        woo = s.execute(select(Shop.id).where(Shop.platform == "woocommerce")).scalar()
        s.execute(delete(WebhookDelivery))  # each example starts from an empty inbox
        s.commit()
    if woo is None:
        connect_shopify(app)
        woo, _ = connect_woocommerce(app)
    return woo


@settings(max_examples=budget(15), deadline=None, suppress_health_check=list(HealthCheck))
@given(shopify_bodies=st.lists(hostile_bodies, min_size=1, max_size=4), wc_bodies=st.lists(hostile_bodies, max_size=2))
def test_any_signed_body_never_gets_a_5xx_nor_stalls_the_worker(app, client, shopify_bodies, wc_bodies):
    woo = _shops(app)
    statuses = [post_shopify(client, b).status_code for b in shopify_bodies]
    statuses += [post_wc(client, woo, b).status_code for b in wc_bodies]
    assert all(code in (200, 400) for code in statuses), statuses
    good = 800000 + len(incidents(app))
    assert _good(client, good).status_code == 200
    run_worker(app)  # returns: the worker did not crash
    _nothing_pending(app)
    assert f"#{good}" in [i["order"]["number"] for i in incidents(app)]
