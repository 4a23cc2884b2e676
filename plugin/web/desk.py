"""The merchant's desk: the incidents list with its filters, one incident with its story and what the team can
do with it, and a crisis with its update and its one decision. For the signed-in shop, and inside the Shopify
admin, where every request carries an App Bridge ID token instead of a cookie."""

from __future__ import annotations

import functools
import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, render_template, request, session, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from plugin.compensation.ledger import describe_value
from plugin.crises.brief import describe, suggested_update
from plugin.desk.queries import SORTS, STATUS_CHOICES, FilterError, count, find, parse_filters
from plugin.desk.timeline import timeline
from plugin.messages.record import language
from plugin.messages.terms import languages_of
from plugin.orders.money import fmt
from plugin.storage.models import Crisis, Incident, Order
from plugin.vocabulary import OPEN_STATUSES, CompensationAction, CrisisStatus, Kind, Responsibility, values
from plugin.web import auth
from plugin.web.embedded import admin_shop, embedded_context
from plugin.web.operations import OperationError, crisis_compensate, crisis_update, on_compensation, on_incident, owned

bp = Blueprint("desk", __name__)
DONE = {"verdict": "The verdict is changed, and the compensations follow it.", "resolve": "Resolved.",
        "dismiss": "Dismissed.", "notes": "Note added.", "messages": "Your message is on its way to the customer.",
        "approve": "Approved: it is being issued.", "cancel": "Cancelled.",
        "update": "Update recorded.", "compensate": "Compensation planned for every affected customer."}


def _embedded_request() -> bool:
    return request.args.get("embedded") == "1" or bool(request.form.get("id_token"))


def desk_page(view):
    """The signed-in shop in g.shop (401 without one); posts need the form's CSRF token, or inside the
    Shopify admin a fresh ID token instead."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        g.embedded = None
        if _embedded_request():
            refused = admin_shop(request.form.get("id_token") if request.method == "POST" else None)
            if refused is not None:
                return refused
            g.embedded, g.who = embedded_context(), "a Shopify admin user"
        else:
            shop = auth.current_shop()
            if shop is None:
                abort(401)
            g.shop, g.who = shop, shop.owner_email or "the team"
            if request.method == "POST":
                auth.check_csrf()
        return view(*args, **kwargs)
    return wrapper


def desk_url(endpoint: str, **values: Any) -> str:
    """A link that stays inside the Shopify admin when the page is shown there."""
    if g.get("embedded"):
        values = {**values, "embedded": "1", "host": g.embedded["host"]}
    return url_for(endpoint, **values)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"desk_url": desk_url, "money": fmt, "describe_value": describe_value}


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A page of the desk, with the banner of every open crisis."""
    s = auth.g_session()
    crises = s.execute(select(Crisis, func.count(Incident.id)).outerjoin(Incident, Incident.crisis_id == Crisis.id)
                       .where(Crisis.shop_id == g.shop.id, Crisis.status != CrisisStatus.RESOLVED)
                       .group_by(Crisis.id).order_by(Crisis.id.desc())).all()
    html = render_template(template, shop=g.shop, embedded=g.embedded, csrf=session.get("csrf"),
                           nonce=secrets.token_urlsafe(12),
                           open_crises=[(c, describe(c), n) for c, n in crises], **context)
    return Response(html, status)


def _choices() -> dict[str, Any]:
    s = auth.g_session()
    carriers = s.execute(select(Order.carrier).where(Order.shop_id == g.shop.id, Order.carrier.is_not(None))
                         .distinct().limit(50)).scalars()
    return {"statuses": STATUS_CHOICES, "kinds": values(Kind), "responsibilities": values(Responsibility),
            "sorts": SORTS, "carriers": sorted(carriers)}


@bp.get("/incidents")
@desk_page
def incidents() -> Response:
    s = auth.g_session()
    try:
        f = parse_filters(request.args, datetime.now(UTC).date())
    except FilterError as exc:
        return render("incidents.html", 400, problem=str(exc)[:1].upper() + str(exc)[1:] + ".", filters=None,
                       args=request.args, page=None, total=0, **_choices())
    page = find(s, g.shop.id, f, loads=(selectinload(Incident.order),))  # the list shows only the order
    cursor = "before_id" if f.sort == "newest" else "after_id"
    nxt = desk_url("desk.incidents", **f.query(**{cursor: page.next_cursor})) if page.next_cursor else None
    return render("incidents.html", filters=f, args=request.args, page=page, total=count(s, g.shop.id, f),
                   next_url=nxt, paged=f.cursor is not None, first_url=desk_url("desk.incidents", **f.query()),
                   problem=None, **_choices())


def _incident_page(incident_id: int, status: int = 200, problem: str | None = None, form: Any = None) -> Response:
    s = auth.g_session()
    try:
        inc = owned(s, Incident, g.shop, incident_id)
    except OperationError:
        abort(404)
    return render("incident.html", status, incident=inc, story=timeline(inc), problem=problem,
                   done=DONE.get(request.args.get("done", "")), form=form or {},
                   responsibilities=values(Responsibility), language=language(inc),
                   is_open=inc.status in OPEN_STATUSES)


@bp.get("/incidents/<int:incident_id>")
@desk_page
def incident(incident_id: int) -> Response:
    return _incident_page(incident_id)


@bp.post("/incidents/<int:incident_id>/<action>")
@desk_page
def act(incident_id: int, action: str):
    try:
        on_incident(auth.g_session(), g.shop, incident_id, action, request.form.to_dict(), g.who)
    except OperationError as exc:
        if exc.status == 404:
            abort(404)
        return _incident_page(incident_id, exc.status, problem=_sentence(str(exc)), form=request.form)
    return redirect(desk_url("desk.incident", incident_id=incident_id, done=action, _anchor="top"), 303)


@bp.post("/compensations/<int:compensation_id>/<decision>")
@desk_page
def decide(compensation_id: int, decision: str):
    back = request.form.get("incident", type=int)
    try:
        comp = on_compensation(auth.g_session(), g.shop, compensation_id, decision)
    except OperationError as exc:
        if exc.status == 404 or back is None:
            abort(exc.status)
        return _incident_page(back, exc.status, problem=_sentence(str(exc)))
    return redirect(desk_url("desk.incident", incident_id=comp.incident_id, done=decision), 303)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _crisis_page(crisis_id: int, status: int = 200, problem: str | None = None) -> Response:
    try:
        crisis = owned(auth.g_session(), Crisis, g.shop, crisis_id)
    except OperationError:
        abort(404)
    # Its incidents with their orders in two queries, not one per row.
    auth.g_session().execute(select(Incident).where(Incident.crisis_id == crisis.id)
                             .options(selectinload(Incident.order))).scalars().all()
    langs = [str(x) for x in languages_of(g.shop)]
    return render("crisis.html", status, crisis=crisis, cause=describe(crisis), problem=problem,
                   done=DONE.get(request.args.get("done", "")), languages=langs,
                   suggested={lang: suggested_update(crisis, lang) for lang in langs},
                   statuses=values(CrisisStatus), actions=values(CompensationAction),
                   open_incidents=[i for i in crisis.incidents if i.status in OPEN_STATUSES])


@bp.get("/crises/<int:crisis_id>")
@desk_page
def crisis(crisis_id: int) -> Response:
    return _crisis_page(crisis_id)


@bp.post("/crises/<int:crisis_id>/updates")
@desk_page
def crisis_updates(crisis_id: int):
    form = request.form
    texts = {lang: form.get(f"text-{lang}", "") for lang in ("en", "es") if f"text-{lang}" in form}
    try:
        crisis_update(auth.g_session(), g.shop, crisis_id, "", form.get("status") or None,
                      form.get("send") == "1", texts, form.get("nonce") or None)
    except OperationError as exc:
        if exc.status == 404:
            abort(404)
        return _crisis_page(crisis_id, exc.status, problem=_sentence(str(exc)))
    return redirect(desk_url("desk.crisis", crisis_id=crisis_id, done="update"), 303)


@bp.post("/crises/<int:crisis_id>/compensate")
@desk_page
def crisis_compensation(crisis_id: int):
    form = request.form
    action = form.get("action", "")
    raw: dict[str, Any] = {"action": action}
    # Only the fields the chosen action takes: the form shows them all.
    for name in ("percent", "amount"):
        if action.endswith(name) and form.get(name, "").strip():
            raw[name] = form[name].strip()
    days = form.get("valid_days", "").strip()
    if action.startswith("coupon") and days:
        raw["valid_days"] = int(days) if days.isdigit() else days
    try:
        crisis_compensate(auth.g_session(), g.shop, crisis_id, raw)
    except OperationError as exc:
        if exc.status == 404:
            abort(404)
        return _crisis_page(crisis_id, exc.status, problem=_sentence(str(exc)))
    return redirect(desk_url("desk.crisis", crisis_id=crisis_id, done="compensate"), 303)
