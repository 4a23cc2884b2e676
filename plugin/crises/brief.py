"""The team's brief when a crisis opens: the cause, how many customers, the money at stake and a suggested
update to send them, once per crisis, by e-mail (and to the team's chat when the shop set one)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.messages.team import chat_escaped, team_addresses
from plugin.messages.terms import communication_of, shop_name
from plugin.orders.money import fmt
from plugin.storage.models import Crisis, Incident, Message, Shop
from plugin.vocabulary import SPENT_STATES, Audience, CauseType, Channel, MessageState, Purpose


def describe(crisis: Crisis) -> str:
    """The cause in a few words: "Correos parcels to GA, ES"."""
    c = crisis.cause
    if crisis.cause_type == CauseType.CARRIER_REGION:
        where = ", ".join(x for x in (c.get("region"), c.get("country")) if x) or "one destination"
        return f"{c.get('carrier')} parcels to {where}"
    if crisis.cause_type == CauseType.PRODUCT:
        return f"orders with {c.get('sku')}"
    return f"payments through {c.get('gateway')}"


def suggested_update(crisis: Crisis, locale: str = "en") -> str:
    """A first honest word for every affected customer, for the team to edit before it goes (the customer's
    language is chosen per customer: English and Spanish are written here)."""
    c = crisis.cause
    es = locale == "es"
    if crisis.cause_type == CauseType.CARRIER_REGION:
        carrier = c.get("carrier") or ("La empresa de transporte" if es else "The carrier")
        if es:
            return (f"{carrier} está teniendo problemas para entregar en tu zona estos días, y muchos paquetes, "
                    "entre ellos el tuyo, están retenidos. Hablamos con ellos a diario y te avisaremos en cuanto "
                    "el tuyo vuelva a moverse. Sentimos la espera.")
        return (f"{carrier} is having trouble delivering in your area right now, and many parcels, "
                "yours among them, are held up. We are in touch with them every day and will tell you as soon "
                "as yours moves again. We are sorry for the wait.")
    if crisis.cause_type == CauseType.PRODUCT:
        if es:
            return ("Uno de los artículos de tu pedido nos está llevando más tiempo del debido para enviarlo. Es "
                    "culpa nuestra y lo sentimos. Estamos en ello y te avisaremos el mismo día en que salga.")
        return ("An item in your order is taking us longer than it should to send. That is our doing, and we "
                "are sorry. We are working on it and will tell you the day it leaves us.")
    if es:
        return ("Nuestro proveedor de pagos está teniendo problemas estos días y algunos pagos no se han "
                "completado. No se ha cobrado ningún pago fallido. Cuando esté resuelto podrás volver a "
                "pagar; te avisaremos.")
    return ("Our payment provider is having trouble right now, and some payments did not go through. Nothing "
            "was charged for a payment that failed. You can pay again once it is fixed; we will let you know.")


def record_brief(session: Session, shop: Shop, crisis: Crisis, now: datetime) -> list[Message]:
    incidents = list(session.execute(select(Incident).where(Incident.crisis_id == crisis.id).options(
        selectinload(Incident.order), selectinload(Incident.compensations))).scalars())
    subject = f"{shop_name(shop)}: possible crisis, {describe(crisis)} ({crisis.observed} in 24 hours)"[:300]
    body = _body(crisis, incidents)
    routes = []
    team = team_addresses(shop)
    if team:
        routes.append((Channel.EMAIL, ", ".join(team), body))
    webhook = communication_of(shop).team_webhook_url
    if webhook:
        routes.append((Channel.WEBHOOK, webhook, f"*{chat_escaped(subject)}*\n{chat_escaped(body)}"))
    out = [Message(shop_id=shop.id, incident_id=None, key=f"crisis:{crisis.id}:brief:{channel}",
                   audience=Audience.TEAM, purpose=Purpose.TEAM_ALERT, sequence=1, channel=channel, to_address=to,
                   locale="en", subject=subject, body_text=text, state=MessageState.QUEUED, created_at=now,
                   details={"reason": "crisis", "crisis_id": crisis.id}) for channel, to, text in routes]
    session.add_all(out)
    return out


def _body(crisis: Crisis, incidents: list[Incident]) -> str:
    value: dict[str, Decimal] = defaultdict(Decimal)
    owed: dict[str, Decimal] = defaultdict(Decimal)
    for i in incidents:
        value[i.order.currency or ""] += i.order.total or Decimal(0)
        for comp in i.compensations:
            if comp.state in SPENT_STATES:
                owed[comp.currency or ""] += comp.value or comp.amount or Decimal(0)
    return "\n\n".join([
        f"Redress has noticed that {describe(crisis)} are going wrong far more than usual: {crisis.observed} "
        f"incidents in the last 24 hours, where about {crisis.expected:g} would be normal for your shop.",
        f"How this was judged: {crisis.method}.",
        f"Customers affected so far: {len(incidents)}, with orders worth {_money(value)}; compensation owed "
        f"by your rules so far: {_money(owed)}. New incidents with the same cause join the crisis while it is open.",
        "Suggested update for every affected customer (edit it before it goes; each customer gets it once, "
        f"in their language):\n\n{suggested_update(crisis)}",
    ]) + "\n"


def _money(by_currency: dict[str, Decimal]) -> str:
    shown = [f"{fmt(v, c)} {c}".strip() for c, v in sorted(by_currency.items()) if v]
    return ", ".join(shown) or "nothing"
