"""The demo's day tells what it promises whatever day and hour it is replayed on: every story's order gets
the incident and verdict the story names (and the orders that went well get none), through the platforms'
own payload mapping and the real detection; the same anchor always gives the same bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.shopify import webhooks as shopify_webhooks
from connectors.woocommerce import webhooks as woo_webhooks
from plugin.compensation.policy import check_policy, default_policy
from plugin.demo.day import TIMEZONE, stories
from plugin.demo.payloads import deliveries, delivery
from plugin.demo.shops import demo_policy
from plugin.incidents.detect import assess
from plugin.orders.facts import OrderFacts
from plugin.orders.timing import TimingPolicy
from plugin.vocabulary import Kind, Platform

POLICY = demo_policy(default_policy(), "hola@demo.example")
TIMING = TimingPolicy.build(TIMEZONE, POLICY["timing"])
anchors = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31),
                       timezones=st.just(UTC)).map(lambda d: d.replace(second=0, microsecond=0))


def facts_of(d) -> OrderFacts:
    mapper = shopify_webhooks if d.platform == Platform.SHOPIFY else woo_webhooks
    (change,) = mapper.normalize(d.topic, json.loads(d.body), d.at)
    assert change.order is not None
    return change.order


def test_the_demo_policy_is_one_a_merchant_could_save():
    assert check_policy(POLICY, TIMEZONE) == []


@settings(max_examples=40, deadline=None)
@given(anchor=anchors, late=st.integers(min_value=0, max_value=30))
def test_every_story_gets_the_incident_it_names_on_any_day_and_hour(anchor, late):
    now = anchor + timedelta(minutes=late)  # the replay runs in the minutes after the anchor
    for story in stories():
        findings = assess(facts_of(delivery(story, anchor)), TIMING, now, "webhook").findings
        got = [(f.kind, f.responsibility) for f in findings]
        assert got == ([story.expect] if story.expect else []), (story.number, got)
        assert all(f.evidence for f in findings)


def test_every_kind_of_incident_is_in_the_day_in_both_languages_with_a_crisis():
    day = stories()
    assert {s.expect[0] for s in day if s.expect} == set(Kind)
    assert {s.language for s in day if s.expect} == {"es", "en"}
    assert {s.platform for s in day if s.expect} == set(Platform)
    wave = [s for s in day if s.parcel and s.parcel.carrier == "Correos" and s.region == "PO"
            and s.expect == (Kind.TRANSIT_STALLED, "carrier")]
    assert len(wave) >= 8  # a crisis needs at least eight in a day (crises.signals)


@given(anchor=anchors)
@settings(max_examples=10, deadline=None)
def test_the_same_anchor_gives_the_same_deliveries(anchor):
    first, again = deliveries(stories(), anchor), deliveries(stories(), anchor)
    assert [(d.body, d.webhook_id, d.topic) for d in first] == [(d.body, d.webhook_id, d.topic) for d in again]
    assert len({d.webhook_id for d in first}) == len(first)
