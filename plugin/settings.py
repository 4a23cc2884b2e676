"""The merchant's settings page: compensation rules, caps, timing and business hours, with a 90-day preview."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from plugin import auth, config, mailer, redis_conn
from plugin.incidents import KINDS, RESPONSIBILITIES
from plugin.models import DataExport, Shop
from plugin.policy import default_policy
from plugin.preview import preview
from plugin.rules import APPROVAL, parse_policy
from plugin.settings_form import COUPONS, EMAIL, LANGUAGES, REFUNDS, policy_from_form, rules_for_form
from plugin.shops import ShopError, check_email
from plugin.timing import DEFAULT_TIMING

bp = Blueprint("settings", __name__)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _page(policy: dict, timezone: str, problems=(), saved=False, proposed=None, status=200,
          embedded: dict | None = None) -> Response:
    shop = g.shop
    now = datetime.now(UTC)
    s = auth.g_session()
    current = preview(s, shop, parse_policy(shop.policy or default_policy()), now)
    after = preview(s, shop, parse_policy(proposed), now) if proposed is not None else None
    exports = s.execute(select(DataExport).where(DataExport.shop_id == shop.id)
                        .order_by(DataExport.created_at.desc()).limit(20)).scalars().all()
    html = render_template(
        "settings.html", shop=shop, rules=rules_for_form(policy), caps=policy.get("caps") or {},
        timing={**DEFAULT_TIMING, **(policy.get("timing") or {})}, timezone=timezone, problems=list(problems),
        saved=saved, kinds=KINDS, responsibilities=RESPONSIBILITIES, refunds=REFUNDS, coupons=COUPONS,
        approvals=APPROVAL, weekdays=WEEKDAYS, csrf=session.get("csrf"), current=current, after=after,
        contact=policy.get("contact") or {}, languages=policy.get("languages") or ["en"], all_languages=LANGUAGES,
        embedded=embedded, exports=exports)
    return Response(html, status)


@bp.get("/login/<ticket>")
def login(ticket: str):
    shop_id = auth.redeem(ticket)
    if shop_id is None:
        message = "This sign-in link has expired or was already used. Ask for a new one."
        return Response(render_template("install_error.html", message=message), 401)
    auth.sign_in(shop_id)
    return redirect(url_for("settings.settings"))


@bp.get("/login")
def login_form():
    session.setdefault("csrf", secrets.token_urlsafe(24))
    return render_template("login.html", csrf=session["csrf"], sent=False, error=None)


@bp.post("/login")
def login_request():
    auth.check_csrf()
    email = (request.form.get("email") or "").strip().lower()
    if not EMAIL.match(email):
        return Response(render_template("login.html", csrf=session["csrf"], sent=False,
                                        error="Please enter the email address you gave Redress."), 400)
    # The same answer whether or not the address is known: nobody learns who our merchants are.
    if redis_conn(current_app).set(f"redress:login-mail:{email}", "1", nx=True, ex=60):
        shops = auth.g_session().execute(select(Shop).where(func.lower(Shop.owner_email) == email,
                                                       Shop.active.is_(True))).scalars().all()
        for shop in shops:
            try:
                mailer.send(config(current_app).smtp_url, email, "Your Redress sign-in link", render_template(
                    "login_email.txt", shop=shop, link=auth.login_link(shop.id)))
            except mailer.MailError:
                current_app.logger.error("could not send the sign-in link of shop %s", shop.id, exc_info=True)
    return render_template("login.html", csrf=session["csrf"], sent=True, error=None)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("health.index"))


@bp.get("/settings")
@auth.require_shop
def settings():
    return _page(g.shop.policy or default_policy(), g.shop.timezone, saved=request.args.get("saved") == "1")


@bp.post("/settings")
@auth.require_shop
def save():
    auth.check_csrf()
    return save_for_shop(request.form)


def save_for_shop(form, embedded: dict | None = None) -> Response:
    """Validate and save the settings form for g.shop; the page again with every problem if it is invalid."""
    stored = g.shop.policy or default_policy()
    policy, timezone, problems = policy_from_form(form, stored)
    try:
        owner_email = check_email(form.get("owner-email"))
    except ShopError as exc:
        problems.append(str(exc).capitalize())
    if problems:
        return _page(policy, timezone, problems=problems, status=400, embedded=embedded)
    if form.get("intent") == "preview":
        return _page(policy, timezone, proposed=policy, embedded=embedded)
    g.shop.policy = policy
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
