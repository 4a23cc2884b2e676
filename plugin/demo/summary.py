"""What the demo's day came to, in a few lines for the terminal."""

from __future__ import annotations

from collections import Counter

from flask import Flask
from sqlalchemy import select

from plugin.crises.brief import describe
from plugin.demo.shops import DemoShops
from plugin.demo.stores import Stores, made
from plugin.extensions import config, db
from plugin.storage.models import Compensation, Crisis, Incident, Message, Shop
from plugin.vocabulary import Audience, Channel, CompensationState, MessageState, Platform


def _incidents(incidents: list[Incident]) -> str:
    kinds = Counter((str(i.kind), str(i.responsibility)) for i in incidents)
    parts = [f"{n} {kind.replace('_', ' ')} ({who})"
             for (kind, who), n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))]
    return f"{len(incidents)} incidents: " + ", ".join(parts)


def summary(app: Flask, shops: DemoShops, stores: Stores) -> list[str]:
    ids = (shops.shopify_id, shops.woocommerce_id)
    lines = []
    with db(app).session() as s:
        for shop_id in ids:
            shop = s.get(Shop, shop_id)
            assert shop is not None
            incidents = list(s.execute(select(Incident).where(Incident.shop_id == shop_id)).scalars())
            store = "Shopify" if shop.platform == Platform.SHOPIFY else "WooCommerce"
            lines.append(f"{shop.name}, a simulated {store} store (shop {shop.id}): {_incidents(incidents)}")
        sent = list(s.execute(select(Message).where(Message.shop_id.in_(ids),
                                                    Message.state == MessageState.SENT)).scalars())
        to_customers = sum(m.audience == Audience.CUSTOMER for m in sent)
        outbox = any(m.channel == Channel.OUTBOX for m in sent)
        where = f" (in {config(app).outbox_dir})" if outbox else ""
        lines.append(f"Messages sent: {to_customers} to customers, {len(sent) - to_customers} to the team{where}")
        states = Counter((str(c.action).split("_")[0], c.state) for c in s.execute(
            select(Compensation).join(Incident).where(Incident.shop_id.in_(ids))).scalars())
        issued = {kind: states[(kind, CompensationState.ISSUED)] for kind in ("refund", "coupon")}
        waiting = sum(n for (_, state), n in states.items() if state == CompensationState.AWAITING_APPROVAL)
        now = made(stores)
        lines.append(f"Compensations issued: {issued['refund']} refunds and {issued['coupon']} coupons "
                     f"(made in the simulated stores by this run: {now['refunds']} and {now['coupons']})"
                     + (f"; {waiting} waiting for your approval on the desk" if waiting else ""))
        for crisis in s.execute(select(Crisis).where(Crisis.shop_id.in_(ids))).scalars():
            lines.append(f"Crisis: {describe(crisis)}, {len(crisis.incidents)} incidents ({crisis.status})")
    return lines
