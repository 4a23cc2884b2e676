"""The merchant's messages page: what Redress wrote to their customers (the outbox too, so a new instance
with no mail server shows its messages), and each message's template, per purpose and language, edited with
a live preview on one of the shop's own incidents."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from plugin.compensation.policy import LANGUAGES, check_policy
from plugin.messages.compose import EDITABLE, TemplateProblem, default_source
from plugin.messages.links import status_url
from plugin.messages.record import preview
from plugin.storage.models import Incident, Message, Order
from plugin.vocabulary import Locale, Purpose
from plugin.web import auth

bp = Blueprint("messages", __name__)
RECENT = 50
NAMES = {Purpose.OPENED: "First message", Purpose.COMPENSATION: "Compensation issued",
         Purpose.UPDATE: "Update", Purpose.RESOLVED: "Resolved"}
VARIABLES = ("shop_name", "sender_name", "customer_name", "order_number", "order_total", "currency", "kind",
             "fault", "since", "opened_at", "carrier", "tracking_url", "tracking_number", "shipped_at",
             "last_scan_at", "estimated_delivery_at", "delivered_at", "compensations", "given",
             "awaiting_approval", "offer", "news", "next_update_at", "status_url", "contact", "reply_to",
             "not_sorted_at")


def _chosen() -> tuple[Purpose, Locale]:
    purpose, lang = request.values.get("purpose", "opened"), request.values.get("lang", "")
    if purpose not in EDITABLE:
        abort(400, "Choose one of the messages listed.")
    languages = [x for x in (g.shop.policy or {}).get("languages") or ["en"] if x in LANGUAGES]
    if lang not in LANGUAGES:
        lang = languages[0] if languages else "en"
    return Purpose(purpose), Locale(lang)


def _own(purpose: Purpose, lang: Locale) -> str | None:
    own = ((g.shop.policy or {}).get("templates") or {}).get(lang) or {}
    return own.get(purpose) if isinstance(own.get(purpose), str) else None


def _sample_incident() -> Incident | None:
    """The shop's latest incident with a customer address, to preview on."""
    return auth.g_session().execute(
        select(Incident).join(Order).where(Incident.shop_id == g.shop.id, Order.customer_email.is_not(None))
        .options(selectinload(Incident.order).selectinload(Order.shop), selectinload(Incident.compensations),
                 selectinload(Incident.messages))
        .order_by(Incident.id.desc()).limit(1)).scalar_one_or_none()


def _rendered(purpose: Purpose, lang: Locale, source: str | None) -> dict[str, Any]:
    inc = _sample_incident()
    link = status_url(current_app, inc.id) if inc else "#"
    try:
        out = preview(inc, g.shop, purpose, lang, source, link, datetime.now(UTC))
    except (TemplateProblem, ValueError) as exc:
        return {"problems": [str(exc)[:1].upper() + str(exc)[1:]], "incident": inc.id if inc else None}
    return {"subject": out.subject, "text": out.text, "html": out.html, "problems": [],
            "incident": inc.id if inc else None, "order": inc.order.number if inc else None}


@bp.get("/settings/messages")
@auth.require_shop
def page(problems: list[str] | None = None, source: str | None = None, status: int = 200) -> Response:
    purpose, lang = _chosen()
    own = _own(purpose, lang)
    text = source if source is not None else (own or default_source(purpose, lang))
    recent = auth.g_session().execute(select(Message).where(Message.shop_id == g.shop.id)
                                      .order_by(Message.id.desc()).limit(RECENT)).scalars().all()
    html = render_template(
        "messages.html", shop=g.shop, purpose=purpose, lang=lang, names=NAMES, languages=LANGUAGES,
        source=text, customised=own is not None, problems=problems or [], saved=request.args.get("saved"),
        preview=_rendered(purpose, lang, text), variables=VARIABLES, recent=recent, csrf=session.get("csrf"))
    return Response(html, status)


@bp.post("/settings/messages/preview")
@auth.require_shop
def live_preview():
    auth.check_csrf()
    purpose, lang = _chosen()
    return jsonify(_rendered(purpose, lang, request.form.get("source", "")))


@bp.post("/settings/messages")
@auth.require_shop
def save():
    auth.check_csrf()
    purpose, lang = _chosen()
    policy = copy.deepcopy(g.shop.policy or {})
    templates = policy.setdefault("templates", {})
    own = templates.setdefault(lang, {})
    source = request.form.get("source", "").replace("\r\n", "\n")
    if request.form.get("action") == "reset" or source.strip() == default_source(purpose, lang).strip():
        own.pop(purpose, None)  # ours again, and it follows our improvements
    else:
        own[purpose] = source
    problems = check_policy(policy, g.shop.timezone)
    if problems:
        return page(problems=problems, source=source, status=400)
    g.shop.policy = policy
    auth.g_session().commit()
    return redirect(url_for("messages.page", purpose=purpose, lang=lang, saved=1))


@bp.get("/settings/messages/<int:message_id>")
@auth.require_shop
def show(message_id: int):
    msg = auth.g_session().get(Message, message_id)
    if msg is None or msg.shop_id != g.shop.id:
        abort(404)
    return render_template("message.html", shop=g.shop, message=msg)
