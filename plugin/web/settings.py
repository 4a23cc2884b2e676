"""The merchant's settings page: compensation rules and offers, caps, timing and business hours, contact channels
and languages, how customers and the team are kept informed, with a 90-day preview."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from plugin.compensation.policy import LANGUAGES, check_policy, default_policy, stored_policy
from plugin.compensation.preview import Preview, preview
from plugin.compensation.rules import OFFER_DAYS, PolicyError, parse_policy
from plugin.demo.shops import is_demo
from plugin.extensions import config, redis_conn
from plugin.messages.communication import EMAIL, MAX_SILENCE_HOURS
from plugin.orders.timing import DEFAULT_TIMING
from plugin.shops import connection
from plugin.shops.connect import ShopError, check_email
from plugin.storage import mailer
from plugin.storage.models import DataExport, Shop
from plugin.vocabulary import Approval, Kind, Responsibility
from plugin.web import auth
from plugin.web.settings_form import COUPONS, REFUNDS, communication_for_form, policy_from_form, rules_for_form

bp = Blueprint("settings", __name__)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _saved_preview(s, shop: Shop, now: datetime) -> Preview | None:
    """What the saved rules give, when they parse (broken ones are listed for the merchant to fix)."""
    try:
        policy = parse_policy(shop.policy or default_policy())
    except PolicyError:
        return None
    return preview(s, shop, policy, now)


def _timing_for_form(policy: dict) -> dict:
    stored = policy.get("timing")
    timing = {**DEFAULT_TIMING, **(stored if isinstance(stored, dict) else {})}
    hours = timing.get("business_hours")
    if not (isinstance(hours, list) and len(hours) == 2):
        timing["business_hours"] = DEFAULT_TIMING["business_hours"]
    return timing


def _page(policy: dict, timezone: str, problems=(), saved=False, proposed=None, status=200,
          embedded: dict | None = None, owner_email: str | None = None) -> Response:
    shop = g.shop
    now = datetime.now(UTC)
    s = auth.g_session()
    # What is wrong with the saved settings (edited in the database, set by the command line, or saved under
    # older checks): the same check a save passes.
    stored_problems = check_policy(shop.policy or default_policy(), shop.timezone)
    current = _saved_preview(s, shop, now)
    after = preview(s, shop, parse_policy(proposed), now) if proposed is not None else None
    exports = s.execute(select(DataExport).where(DataExport.shop_id == shop.id)
                        .order_by(DataExport.created_at.desc()).limit(20)).scalars().all()
    contact, languages = policy.get("contact"), policy.get("languages")
    html = render_template(
        "settings.html", shop=shop, rules=rules_for_form(policy),
        caps=policy.get("caps") if isinstance(policy.get("caps"), dict) else {},
        timing=_timing_for_form(policy), timezone=timezone, problems=list(problems),
        stored_problems=stored_problems if not problems else [],
        saved=saved, kinds=list(Kind), responsibilities=list(Responsibility), refunds=REFUNDS, coupons=COUPONS,
        approvals=list(Approval), weekdays=WEEKDAYS, csrf=session.get("csrf"), current=current, after=after,
        contact=contact if isinstance(contact, dict) else {},
        languages=languages if isinstance(languages, list) else ["en"], all_languages=LANGUAGES,
        embedded=embedded, exports=exports, connection=connection.cached_check(current_app, s, shop, now),
        owner_email=shop.owner_email if owner_email is None else owner_email,
        communication=communication_for_form(policy), silence_hours=MAX_SILENCE_HOURS, offer_days=OFFER_DAYS)
    return Response(html, status)


LINK_REFUSED = {
    "used": "This sign-in link was already used: each link works once.",
    "expired": "This sign-in link has expired: links work for one hour.",
    "invalid": "This sign-in link is not valid; it may have been cut short when it was copied.",
}


def _login_page(status: int = 200, *, sent: bool = False, error: str | None = None, notice: str | None = None,
                email: str = "") -> Response:
    session.setdefault("csrf", secrets.token_urlsafe(24))
    html = render_template("login.html", csrf=session["csrf"], sent=sent, error=error, notice=notice, email=email,
                           mail_ready=bool(config(current_app).smtp_url))
    return Response(html, status)


@bp.app_errorhandler(401)
def unauthorized(_exc):
    return Response(render_template("unauthorized.html"), 401)


@bp.get("/login/<ticket>")
def login(ticket: str):
    try:
        shop_id = auth.redeem(ticket)
    except auth.LinkRefused as refused:
        if refused.reason == "used" and auth.current_shop() is not None:
            return redirect(url_for("settings.settings"))  # clicked twice: already signed in by the first click
        return _login_page(401, notice=LINK_REFUSED[refused.reason])
    auth.sign_in(shop_id)
    return redirect(url_for("settings.settings"))


@bp.get("/login")
def login_form():
    return _login_page()


@bp.post("/login")
def login_request():
    auth.check_csrf()
    typed = (request.form.get("email") or "").strip()
    email = typed.lower()
    if not EMAIL.match(email):
        return _login_page(400, error="Please enter the email address you gave Redress.", email=typed)
    # The same answer whether or not the address is known: nobody learns who our merchants are.
    if redis_conn(current_app).set(f"redress:login-mail:{email}", "1", nx=True, ex=60):
        shops = auth.g_session().execute(select(Shop).where(func.lower(Shop.owner_email) == email,
                                                       Shop.active.is_(True))).scalars().all()
        for shop in shops:
            _send_link(shop, email)
    return _login_page(sent=True, email=typed)


def _send_link(shop: Shop, email: str) -> None:
    """Email the link; without SMTP (or when it refuses) it goes to the outbox, for the operator to pass on."""
    cfg = config(current_app)
    msg = mailer.message(email, "Your Redress sign-in link",
                         render_template("login_email.txt", shop=shop, link=auth.login_link(shop.id)),
                         sender=cfg.mail_from)
    if cfg.smtp_url:
        try:
            mailer.deliver(cfg.smtp_url, msg)
            return
        except mailer.MailError:
            current_app.logger.error("could not send the sign-in link of shop %s", shop.id, exc_info=True)
    path = mailer.write_outbox(msg, cfg.outbox_dir)
    current_app.logger.info("the sign-in link of shop %s was written to %s", shop.id, path)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("health.index"))


@bp.get("/settings")
@auth.require_shop
def settings():
    policy = g.shop.policy if isinstance(g.shop.policy, dict) and g.shop.policy else default_policy()
    return _page(policy, g.shop.timezone, saved=request.args.get("saved") == "1")


@bp.post("/settings")
@auth.require_shop
def save():
    auth.check_csrf()
    return save_for_shop(request.form)


DEMO_READ_ONLY = ("The demo shop's settings can be tried with Preview but not saved: connect a store of your "
                  "own to keep settings")


def save_for_shop(form, embedded: dict | None = None) -> ResponseReturnValue:
    """Validate and save the settings form for g.shop; the page again with every problem if it is invalid."""
    stored = g.shop.policy if isinstance(g.shop.policy, dict) and g.shop.policy else default_policy()
    policy, timezone, problems = policy_from_form(form, stored)
    try:
        owner_email = check_email(form.get("owner-email"))
    except ShopError as exc:
        problems.append(str(exc).capitalize())
    if problems:  # the page again as typed, so nothing the merchant wrote is lost
        return _page(policy, timezone, problems=problems, status=400, embedded=embedded,
                     owner_email=form.get("owner-email") or "")
    if form.get("intent") == "preview":
        return _page(policy, timezone, proposed=policy, embedded=embedded)
    if is_demo(g.shop):
        # Anyone may open an empty instance's demo: its shop must never be made to mail addresses of their choosing.
        return _page(policy, timezone, problems=[DEMO_READ_ONLY], status=403, embedded=embedded,
                     owner_email=form.get("owner-email") or "")
    g.shop.policy = stored_policy(policy)
    g.shop.timezone = timezone
    g.shop.owner_email = owner_email
    auth.g_session().commit()
    current_app.logger.info("shop %s saved its settings", g.shop.id)
    if embedded is not None:
        return _page(policy, timezone, saved=True, embedded=embedded)
    return redirect(url_for("settings.settings", saved=1))


@bp.get("/settings/data-requests/<int:export_id>.json")
@auth.require_shop
def data_export(export_id: int):
    """A customer's data gathered for a privacy request, for this shop only (another shop's id is a 404)."""
    export = auth.g_session().execute(select(DataExport).where(DataExport.id == export_id,
                                                               DataExport.shop_id == g.shop.id)).scalar_one_or_none()
    if export is None:
        return Response("not found", 404)
    body = json.dumps(export.data, indent=2, ensure_ascii=False)
    return Response(body, 200, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="data-request-{export.id}.json"'})
