"""The demo's day as the tests check it: the incidents each order opened, and those its stories expect,
both keyed by (platform, the platform's order id) with (kind, whose fault) for each incident."""

from __future__ import annotations

from sqlalchemy import select

from plugin.demo.payloads import shopify_id
from plugin.extensions import db
from plugin.storage.models import Incident, Order, Shop
from plugin.vocabulary import Platform

Incidents = dict[tuple[str, str], list[tuple[str, str]]]


def order_incidents(app) -> Incidents:
    with db(app).session() as s:
        rows = s.execute(select(Shop.platform, Order.platform_order_id, Incident.kind, Incident.responsibility)
                         .join(Incident, Incident.order_id == Order.id).join(Shop, Shop.id == Order.shop_id)).all()
    out: Incidents = {}
    for platform, order_id, kind, who in rows:
        out.setdefault((str(platform), order_id), []).append((str(kind), str(who)))
    return out


def story_key(story) -> tuple[str, str]:
    return str(story.platform), shopify_id(story) if story.platform == Platform.SHOPIFY else str(story.number)


def expected_incidents(day) -> Incidents:
    return {story_key(s): [tuple(map(str, s.expect))] for s in day if s.expect}
