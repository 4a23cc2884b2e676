"""The customer's status page, `/s/<token>`: no sign-in, the signed token is the key. Every token that does not
name an existing incident gets the same 404. The page's forms carry the session's CSRF field and answer
with a redirect back to the page (POST/redirect/GET) and a short confirmation."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import flask_babel
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from plugin.compensation.offers import OfferError, choose_offer, offer_json
from plugin.extensions import redis_conn
from plugin.messages import links, status
from plugin.messages.formats import Formats
from plugin.messages.records import committed
from plugin.storage.models import Incident
from plugin.storage.queue import enqueue_compensation, enqueue_notify
from plugin.vocabulary import CompensationState, Locale
from plugin.web import auth

bp = Blueprint("status", __name__)
OFFER_ERRORS = {"no_offer": 409, "bad_option": 400, "final": 409}


@bp.after_request
def _private(response: Response) -> Response:
    # The token in the address is the customer's key: never cached, never sent on to other sites.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _use_locale(locale: Locale) -> None:
    g.locale = locale.value
    flask_babel.refresh()


@bp.errorhandler(404)
def _not_found(_exc):
    # One answer for every token that is not a live one: nothing tells a forged token from a deleted incident.
    asked = request.args.get("lang")
    best = request.accept_languages.best_match([x.value for x in Locale])
    _use_locale(Locale(asked) if asked in (Locale.ES.value, Locale.EN.value) else Locale(best or Locale.EN))
    return Response(render_template("status_not_found.html"), 404)


@bp.errorhandler(400)
def _refused(exc: HTTPException):
    if g.get("incident") is None:
        return exc
    return _page(g.incident, status_code=400, error="expired")


def _incident(token: str) -> Incident:
    incident_id = links.incident_id_for(current_app, token)
    incident = status.find_incident(auth.g_session(), incident_id) if incident_id is not None else None
    if incident is None:
        abort(404)
    g.incident, g.token = incident, token
    _use_locale(status.page_locale(request.args.get("lang"), incident))
    return incident


def _back():
    """Back to the page, in the language it was shown in when the customer had picked one."""
    lang = request.args.get("lang")
    if lang in (Locale.ES.value, Locale.EN.value):
        return redirect(url_for("status.page", token=g.token, lang=lang))
    return redirect(url_for("status.page", token=g.token))


def _page(incident: Incident, status_code: int = 200, **extra) -> Response:
    now = datetime.now(UTC)
    shown = status.view(incident, now)
    session.setdefault("csrf", secrets.token_urlsafe(24))
    html = render_template(
        "status.html", view=shown, offer=offer_json(incident), raw_offer=incident.offer or {},
        fmt=Formats(Locale(g.locale), shown.tz, now), csrf=session["csrf"], lang=g.locale,
        other_lang="en" if g.locale == "es" else "es", token=g.token, reply_max=status.REPLY_MAX,
        **{"text": "", "error": None, **extra})
    return Response(html, status_code)


@bp.route("/s/", methods=["GET", "POST"])
@bp.route("/s/<path:anything>", methods=["GET", "POST"])
def _anything_else(anything: str = ""):
    # Any other address under /s/ (a trailing slash, a path cut or stuck together) gets the same 404 as a bad
    # token, rather than the server's own page: nothing tells one kind of wrong link from another.
    abort(404)


@bp.get("/s/<token>")
def page(token: str):
    return _page(_incident(token))


@bp.post("/s/<token>/offer")
def offer(token: str):
    incident = _incident(token)
    auth.check_csrf()
    s = auth.g_session()
    try:
        index = int(request.form.get("option", ""))
    except ValueError:
        index = -1
    try:
        chosen = committed(s, lambda: choose_offer(s, incident, index, datetime.now(UTC), by="customer"))
    except OfferError as exc:
        s.rollback()
        return _page(incident, OFFER_ERRORS.get(exc.code, 400), error=f"offer_{exc.code}")
    planned = [c.id for c in chosen if c.state == CompensationState.PLANNED]
    if planned:
        enqueue_compensation(redis_conn(current_app), *planned)
    flash("chosen", "status")
    return _back()


@bp.post("/s/<token>/confirm")
def confirm(token: str):
    incident = _incident(token)
    auth.check_csrf()
    answer = request.form.get("answer")
    if answer not in ("yes", "no"):
        return _page(incident, 400, error="answer")
    s = auth.g_session()
    outcome, alert = committed(s, lambda: status.record_answer(s, incident, answer == "yes", datetime.now(UTC)))
    enqueue_notify(redis_conn(current_app), *[m.id for m in alert])
    flash("sorted" if outcome == "sorted" else "not_sorted", "status")
    return _back()


@bp.post("/s/<token>/reply")
def reply(token: str):
    incident = _incident(token)
    auth.check_csrf()
    typed = request.form.get("text", "")
    try:
        text = status.checked_reply(typed)
    except status.ReplyError as exc:
        # The page again with what was typed, so nothing the customer wrote is lost.
        return _page(incident, 400, error=f"reply_{exc.code}", text=typed[: status.REPLY_MAX * 2])
    s = auth.g_session()
    _reply, alert = committed(s, lambda: status.record_reply(s, incident, text, Locale(g.locale),
                                                              datetime.now(UTC)))
    enqueue_notify(redis_conn(current_app), *[m.id for m in alert])
    flash("replied", "status")
    return _back()
