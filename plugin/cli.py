"""The `redress` command (CONTRACT.md, "Processes"). Exit 0 done, 2 bad usage, 1 failure."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from plugin.config import Config
from plugin.vocabulary import Channel, CompensationAction, CompensationState, CrisisStatus, IncidentStatus, values


def _given_app():
    """The application the caller hands the command, if any: Flask's test runner passes one as a ScriptInfo."""
    from flask.cli import ScriptInfo

    info = click.get_current_context().find_object(ScriptInfo)
    return info.load_app() if info is not None else None


def _config() -> Config:
    from plugin.config import ConfigError

    given = _given_app()
    if given is not None:
        from plugin.extensions import config

        return config(given)
    try:
        return Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _app():
    """The caller's application, else one built from the environment."""
    given = _given_app()
    if given is not None:
        return given
    from plugin.app import create_app

    return create_app(_config())


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _print_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Redress: order incidents for Shopify and WooCommerce shops."""


def _host_port(host, port):
    return host or os.environ.get("HOST", "127.0.0.1"), port or int(os.environ.get("PORT", "8000"))


@main.command()
@click.option("--host", default=None, help="address to listen on (default $HOST or 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port (default $PORT or 8000)")
def run(host, port):
    """Everything on one machine: migrate, then web, worker and clock."""
    from plugin.extensions import config
    from plugin.processes import port_in_use, run_all
    from plugin.storage import migrate

    host, port = _host_port(host, port)
    if port_in_use(host, port):  # before anything starts: a second `run` must not leave a Redis behind
        _fail(f"port {port} is already in use: is Redress already running? (stop it, or pick another "
              "port with --port)")
    # Unset, the public address is this one, so webhook addresses and the demo's deliveries follow --port.
    if not os.environ.get("REDRESS_PUBLIC_URL"):
        os.environ["REDRESS_PUBLIC_URL"] = _local_url(host, port)
    app = _app()
    migrate.upgrade(config(app).database_url)
    sys.exit(run_all(app, host, port))


def _local_url(host: str, port: int) -> str:
    if host in ("", "0.0.0.0", "::"):  # every address: this machine's loopback is one of them
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@main.command()
@click.option("--host", default=None, help="address to listen on (default $HOST or 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port (default $PORT or 8000)")
def web(host, port):
    """The web process (webhooks, pages, API) under the production server."""
    from plugin.processes import web_command

    host, port = _host_port(host, port)
    cmd = web_command(host, port, int(os.environ.get("WEB_CONCURRENCY", "2")))
    os.execv(cmd[0], cmd)


@main.command()
@click.option("--burst", is_flag=True, help="exit when the queues are empty")
@click.option("--queues", default=None, metavar="Q1,Q2",
              help="serve only these queues (default: all of them, taken in turn)")
def worker(burst, queues):
    """The RQ worker: ingest, sweep, reconcile, compensate and notify jobs, taken in turn."""
    from plugin.processes import worker as run_worker
    from plugin.storage.queue import QUEUES

    names = tuple(q.strip() for q in queues.split(",") if q.strip()) if queues else None
    unknown = sorted(set(names or ()) - set(QUEUES))
    if unknown or names == ():  # bad usage: exit 2, like any other invalid option
        raise click.BadParameter(f"unknown queue {', '.join(unknown) or '(none given)'}: the queues are "
                                 f"{', '.join(QUEUES)}", param_hint="--queues")
    run_worker(_app(), burst=burst, queues=names)


@main.command()
@click.option("--once", is_flag=True, help="enqueue this minute's jobs and exit")
def clock(once):
    """The scheduler: enqueues the sweep every minute."""
    from plugin.processes import clock as run_clock

    run_clock(_app(), once=once)


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
def db_upgrade():
    """Apply migrations (alembic upgrade head)."""
    from plugin.storage import migrate

    cfg = _config()
    try:
        migrate.upgrade(cfg.database_url)
    except OperationalError as exc:
        _fail(f"cannot migrate the database: {exc.orig}")
    click.echo("database is up to date", err=True)


@main.group()
def shops():
    """Connected shops."""


@shops.group("add")
def shops_add():
    """Connect a shop."""


def _session():
    from plugin.extensions import db as database

    app = _app()
    return app, database(app).session()


def _connect(add, **kwargs) -> None:
    """Run a shops.add_* function, commit, and print the shop with what is shown only once."""
    from plugin.extensions import config, vault
    from plugin.shops.connect import ShopError, shop_json

    app, session = _session()
    with session as s:
        try:
            shop, api_token, generated_secret = add(s, vault(app), config(app), **kwargs)
            s.commit()
        except ShopError as exc:
            _fail(str(exc))
        except OperationalError as exc:
            _fail(f"database unavailable ({exc.orig}); did you run `redress db upgrade`?")
        out = {**shop_json(shop, config(app)), "api_token": api_token}
        if generated_secret:
            out["webhook_secret"] = generated_secret
        _print_json(out)  # first: the API token is shown only once, whatever the check below finds
        _warn_if_refused(app, s, shop)


def _warn_if_refused(app, session, shop) -> None:
    """One cheap read against the store; the shop stays added either way, the merchant learns why it fails."""
    from plugin.shops.connection import credentials_problem, quick_retry

    problem = credentials_problem(app, session, shop, quick_retry(app))
    if problem is not None:
        click.echo(f"warning: shop {shop.id} was added, but its credentials do not work: {problem}. "
                   "Check the token or keys, then run `redress shops check "
                   f"{shop.id}`.", err=True)


@shops_add.command("shopify")
@click.option("--domain", required=True, help="the shop's host, e.g. my-store.myshopify.com")
@click.option("--token", required=True, help="Admin API access token of a custom app")
@click.option("--admin-url", default=None, help="override the Admin GraphQL endpoint")
@click.option("--webhook-secret", default=None, help="secret that signs this shop's webhooks")
@click.option("--timezone", default="UTC", show_default=True, help="the shop's time zone, e.g. Europe/Madrid")
@click.option("--owner-email", default=None, help="where sign-in links for the settings page are sent")
def add_shopify(**kwargs):
    """Connect a Shopify store with a custom-app token."""
    from plugin.shops.connect import add_shopify

    _connect(add_shopify, **kwargs)


@shops_add.command("woocommerce")
@click.option("--url", required=True, help="the store's base URL, e.g. https://shop.example.com")
@click.option("--key", required=True, help="REST API consumer key (ck_…)")
@click.option("--secret", required=True, help="REST API consumer secret (cs_…)")
@click.option("--webhook-secret", default=None, help="secret set on the store's webhooks (generated if omitted)")
@click.option("--timezone", default="UTC", show_default=True, help="the shop's time zone, e.g. Europe/Madrid")
@click.option("--api-refund/--no-api-refund", default=True, show_default=True,
              help="refund through the payment gateway (off: record refunds only, pay back by hand)")
@click.option("--owner-email", default=None, help="where sign-in links for the settings page are sent")
def add_woocommerce(**kwargs):
    """Connect a WooCommerce store with REST keys."""
    from plugin.shops.connect import add_woocommerce

    _connect(add_woocommerce, **kwargs)


@shops.command("subscribe")
@click.argument("shop_id", type=int, metavar="ID")
def shops_subscribe(shop_id):
    """Subscribe the shop's order webhooks to this Redress (REDRESS_PUBLIC_URL)."""
    import connectors
    from connectors.http import PlatformError
    from plugin.extensions import config, vault
    from plugin.shops.connect import shop_json
    from plugin.shops.tokens import current_access
    from plugin.storage.models import Shop

    app, session = _session()
    with session as s:
        shop = s.get(Shop, shop_id)
        if shop is None:
            _fail(f"no shop {shop_id}")
        cfg = config(app)
        url = shop_json(shop, cfg)["webhook_url"]
        try:
            made = connectors.get(shop.platform).subscribe_webhooks(
                current_access(app, s, shop), url,
                secret=vault(app).decrypt(shop.webhook_secret), retry=cfg.platform_retry())
        except (PlatformError, ValueError) as exc:
            _fail(str(exc))
        _print_json({"shop_id": shop.id, "webhook_url": url, "created": made})


@shops.command("check")
@click.argument("shop_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def shops_check(shop_id, as_json):
    """Whether the credentials work, the webhooks are subscribed, and when the last delivery arrived.

    Exit 1 when something does not work."""
    from datetime import UTC, datetime

    from plugin.shops.connection import check, describe
    from plugin.storage.models import Shop

    app, session = _session()
    with session as s:
        shop = s.get(Shop, shop_id)
        if shop is None:
            _fail(f"no shop {shop_id}")
        status = check(app, s, shop, datetime.now(UTC))
    if as_json:
        _print_json(status)
    else:
        for line in describe(status):
            click.echo(line)
    if not status["ok"]:
        problems = [f"the credentials do not work ({status['credentials']['error']})"
                    if not status["credentials"]["ok"] else None,
                    f"webhooks missing: {', '.join(status['webhooks']['missing'])}"
                    if status["webhooks"]["missing"] else None,
                    status["webhooks"]["error"] if status["credentials"]["ok"] else None]
        click.echo(f"Error: shop {shop_id} is not fully connected: {'; '.join(p for p in problems if p)}", err=True)
        sys.exit(1)


@shops.command("policy")
@click.argument("shop_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="print the shop's whole policy as JSON")
@click.option("--set", "source", type=click.File("r"), default=None, metavar="FILE",
              help="replace the policy with the JSON in FILE (- for stdin), checked like the settings page")
def shops_policy(shop_id, as_json, source):
    """Print a shop's policy (rules, caps, timing, contact, languages, communication), or replace it.

    A policy with problems is refused whole: each problem on stderr, exit 2, nothing changed."""
    from plugin.compensation.policy import check_policy, default_policy
    from plugin.storage.models import Shop

    if source is None and not as_json:
        raise click.UsageError("say --json to print the policy, or --set FILE to replace it")
    _app_, session = _session()
    with session as s:
        shop = s.get(Shop, shop_id)
        if shop is None:
            _fail(f"no shop {shop_id}")
        if source is not None:
            _replace_policy(s, shop, source, check_policy)
        if as_json:
            _print_json(shop.policy or default_policy())


def _replace_policy(s, shop, source, check_policy) -> None:
    from plugin.compensation.policy import stored_policy

    try:
        policy = json.load(source)
    except json.JSONDecodeError as exc:
        click.echo(f"Error: {source.name} is not JSON: {exc}", err=True)
        sys.exit(2)
    problems = check_policy(policy, shop.timezone)
    if problems:
        for problem in problems:
            click.echo(f"Error: {problem}", err=True)
        sys.exit(2)
    shop.policy = stored_policy(policy)
    s.commit()
    click.echo(f"Saved the policy of shop {shop.id}.", err=True)


@shops.command("login-link")
@click.argument("shop_id", type=int, metavar="ID")
def shops_login_link(shop_id):
    """Print a one-time link (valid one hour) that signs the merchant in to the shop's settings page."""
    from plugin.storage.models import Shop
    from plugin.web import auth

    app, session = _session()
    with session as s:
        if s.get(Shop, shop_id) is None:
            _fail(f"no shop {shop_id}")
    with app.test_request_context():
        click.echo(auth.login_link(shop_id))


@shops.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def shops_list(as_json):
    """The connected shops."""
    from plugin.extensions import config
    from plugin.shops.connect import shop_json
    from plugin.storage.models import Shop

    app, session = _session()
    with session as s:
        rows = [shop_json(x, config(app)) for x in s.execute(select(Shop).order_by(Shop.id)).scalars()]
    if as_json:
        _print_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['id']:>4}  {r['platform']:<12} {r['domain']}  {r['webhook_url']}")


@main.group()
def incidents():
    """Incidents."""


@incidents.command("list")
@click.option("--shop", "shop_id", type=int, default=None, help="only this shop's incidents")
@click.option("--status", type=click.Choice(values(IncidentStatus)), default=None)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def incidents_list(shop_id, status, as_json):
    """Incidents, oldest first."""
    from plugin.incidents.presentation import list_incidents
    from plugin.messages.links import status_url

    app, session = _session()
    with session as s:
        rows = list_incidents(s, shop_id=shop_id, status=status, link=lambda i: status_url(app, i))
    if as_json:
        _print_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['id']:>5}  {r['status']:<18} {r['kind']:<18} {r['responsibility']:<9} "
                       f"order {r['order']['number']}  {r['order']['customer_email'] or ''}")
            for c in r["compensations"]:
                click.echo(f"       compensation {c['id']}: {_compensation_line(c)}")


@main.command()
@click.option("--shop", "shop_id", type=int, required=True)
@click.option("--from", "start", default=None, help="first day, YYYY-MM-DD (UTC; default 30 days before --to)")
@click.option("--to", "end", default=None, help="last day, included (default today)")
def analytics(shop_id, start, end):
    """One shop's analytics for a range of days, as JSON."""
    from plugin.analytics.ranges import RangeError, date_range
    from plugin.analytics.report import report
    from plugin.storage.models import Shop

    now = datetime.now(UTC)
    try:
        first, last = date_range(start, end, now.date())
    except RangeError as exc:
        _fail(str(exc).replace("'from'", "--from").replace("'to'", "--to"))
    _app, session = _session()
    with session as s:
        shop = s.get(Shop, shop_id)
        if shop is None:
            _fail(f"no shop {shop_id}")
        _print_json(report(s, shop, first, last, now))


@main.group()
def crises():
    """Crises: one cause hitting many customers at once."""


@crises.command("detect")
def crises_detect():
    """Run one crisis-detection pass over every shop now (the clock runs one every 15 minutes)."""
    from jobs import crises as crisis_jobs
    from jobs import use_app

    use_app(_app())
    result = crisis_jobs.detect()
    if result.get("busy"):
        _fail("another detection pass is running; try again in a minute")
    click.echo(f"{len(result['opened'])} crisis(es) opened, {result['joined']} incident(s) joined, "
               f"{result['briefs']} brief(s) to the team.", err=True)
    _print_json(result)


@crises.command("update")
@click.argument("crisis_id", type=int)
@click.option("--text", default="", help="the update; empty: Redress's own words for the cause, in each language")
@click.option("--status", type=click.Choice(values(CrisisStatus)), default=None, help="the crisis's new status")
@click.option("--send", "send", is_flag=True, help="send it to every affected customer, once")
def crises_update(crisis_id, text, status, send):
    """Record an update on a crisis and, with --send, tell every affected customer in their language."""
    from jobs import use_app
    from plugin.crises.actions import CrisisError, post_update
    from plugin.extensions import config, redis_conn
    from plugin.messages.links import status_url
    from plugin.storage.models import Crisis
    from plugin.storage.queue import enqueue_notify

    app, session = _session()
    use_app(app)
    channel = Channel.EMAIL if config(app).smtp_url else Channel.OUTBOX
    with session as s:
        crisis = s.get(Crisis, crisis_id)
        if crisis is None:
            _fail(f"no crisis {crisis_id}")
        try:
            posted = post_update(s, crisis, text=text, status=status, send_to_customers=send,
                                 now=datetime.now(UTC), status_url=lambda i: status_url(app, i), channel=channel,
                                 mail_from=config(app).mail_from)
        except CrisisError as exc:
            _fail(str(exc))
        s.commit()
        ids = [m.id for m in posted.messages]
    enqueue_notify(redis_conn(app), *ids)
    click.echo(f"crisis {crisis_id}: update recorded, {len(ids)} customer(s) to be told", err=True)


@crises.command("compensate")
@click.argument("crisis_id", type=int)
@click.option("--action", "action", required=True, type=click.Choice(values(CompensationAction)))
@click.option("--percent", default=None, help="for a percent refund or coupon")
@click.option("--amount", default=None, help="for an amount refund or coupon")
@click.option("--valid-days", "valid_days", type=int, default=None, help="for a coupon (default 90)")
def crises_compensate(crisis_id, action, percent, amount, valid_days):
    """One decision for every affected customer: the compensation planned, approved and issued for each open
    incident of the crisis it has not compensated yet."""
    from plugin.compensation.decisions import DecisionError, compensate_all
    from plugin.extensions import redis_conn
    from plugin.storage.models import Crisis
    from plugin.storage.queue import enqueue_compensation, request_messages

    raw = {"action": action, **{k: v for k, v in (("percent", percent), ("amount", amount),
                                                   ("valid_days", valid_days)) if v is not None}}
    app, session = _session()
    with session as s:
        crisis = s.get(Crisis, crisis_id)
        if crisis is None:
            _fail(f"no crisis {crisis_id}")
        try:
            planned = compensate_all(s, crisis.incidents, raw, f"crisis{crisis.id}", datetime.now(UTC))
        except DecisionError as exc:
            _fail(str(exc))
        s.commit()
        ids = [c.id for c in planned]
    enqueue_compensation(redis_conn(app), *ids)
    request_messages(redis_conn(app))
    click.echo(f"crisis {crisis_id}: {len(ids)} compensation(s) planned and approved", err=True)


@crises.command("list")
@click.option("--shop", "shop_id", type=int, default=None, help="only this shop's crises")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def crises_list(shop_id, as_json):
    """Crises, newest first."""
    from plugin.crises.presentation import list_crises

    _app, session = _session()
    with session as s:
        rows = list_crises(s, shop_id=shop_id)
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        cause = ", ".join(f"{k} {v}" for k, v in r["cause"].items() if k != "type" and v)
        click.echo(f"{r['id']:>5}  {r['status']:<13} {r['cause']['type']:<15} {cause}  "
                   f"{r['observed']} observed, {r['expected']:g} expected, {len(r['incident_ids'])} incidents")


def _compensation_line(c: dict) -> str:
    what = c["action"].replace("_", " ")
    value = f"{c['percent']} %" if c.get("percent") and c["action"] == CompensationAction.COUPON_PERCENT else \
        f"{c['amount']} {c['currency']}"
    line = f"{what} {value}, {c['state'].replace('_', ' ')}"
    if c.get("code"):
        line += f", code {c['code']}" + (f" until {c['expires_at'][:10]}" if c.get("expires_at") else "")
    if c["attempts"]:
        line += f", {c['attempts']} attempt{'s' if c['attempts'] != 1 else ''}"
    return line + (f" ({c['error']})" if c.get("error") else "")


@main.group()
def compensations():
    """Compensations waiting for a decision."""


def _decide(comp_id: int, decision) -> None:
    from plugin.compensation.ledger import LedgerError
    from plugin.extensions import redis_conn
    from plugin.storage.models import Compensation
    from plugin.storage.queue import enqueue_compensation

    app, session = _session()
    with session as s:
        comp = s.get(Compensation, comp_id)
        if comp is None:
            _fail(f"no compensation {comp_id}")
        try:
            decision(s, comp)
        except LedgerError as exc:
            _fail(str(exc))
        s.commit()
        if comp.state == CompensationState.PLANNED:
            enqueue_compensation(redis_conn(app), comp.id)
        click.echo(json.dumps({"id": comp.id, "action": comp.action, "state": comp.state}))


@compensations.command("approve")
@click.argument("comp_id", type=int, metavar="ID")
def compensations_approve(comp_id):
    """Approve a compensation waiting for approval: it is issued next."""
    from plugin.compensation.ledger import approve

    _decide(comp_id, approve)


@compensations.command("cancel")
@click.argument("comp_id", type=int, metavar="ID")
def compensations_cancel(comp_id):
    """Cancel a planned or waiting compensation."""
    from plugin.compensation.ledger import cancel

    _decide(comp_id, cancel)


@main.group()
def messages():
    """Messages to customers and the team, and the customers' own words."""


@messages.command("list")
@click.option("--shop", "shop_id", type=int, default=None, help="only this shop's messages")
@click.option("--incident", "incident_id", type=int, default=None, help="only this incident's messages")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def messages_list(shop_id, incident_id, as_json):
    """Messages, oldest first."""
    from plugin.messages.presentation import list_messages

    _app, session = _session()
    with session as s:
        rows = list_messages(s, shop_id=shop_id, incident_id=incident_id)
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        when = r["sent_at"] or f"({r['state']})"
        click.echo(f"{r['id']:>5}  incident {r['incident_id'] or '-':<5} {r['purpose']:<12} {r['locale'] or '':<3} "
                   f"{when:<21} {r['to'] or ''}  {r['subject'] or ''}")


@main.group()
def keys():
    """Encryption keys."""


@keys.command("rotate")
def keys_rotate():
    """Re-encrypt stored secrets under a new key."""
    from plugin.extensions import config
    from plugin.shops.keyring import rotate

    app, session = _session()
    with session as s:
        try:
            count = rotate(s, config(app))
        except ValueError as exc:
            _fail(str(exc))
    click.echo(f"re-encrypted the secrets of {count} shop(s) under a new key", err=True)


@main.command()
def sweep():
    """Run the stall sweep once, now."""
    from jobs import sweep as sweep_job
    from jobs import use_app

    use_app(_app())
    _print_json(sweep_job.run())


@main.group()
def inbox():
    """The webhook inbox."""


@inbox.command("purge")
def inbox_purge():
    """Delete processed deliveries older than REDRESS_INBOX_RETENTION_DAYS now (the sweep does it hourly)."""
    from datetime import UTC, datetime, timedelta

    from plugin.extensions import config, db
    from plugin.intake.inbox import purge

    app = _app()
    days = config(app).inbox_retention_days
    deleted, _ = purge(db(app).engine, datetime.now(UTC), timedelta(days=days))
    _print_json({"deleted": deleted, "retention_days": days})


@main.command()
@click.option("--exit", "exit_after", is_flag=True, help="exit once the replay is done, instead of serving the "
              "simulated stores until Ctrl-C")
@click.option("--seconds", type=click.FloatRange(0, 3600), default=45, show_default=True,
              help="how long the sending of the day's webhooks takes")
def demo(exit_after, seconds):
    """Connect a simulated Shopify and WooCommerce store, replay a day of their orders as signed webhooks
    to this instance, and print what came of it with a sign-in link."""
    from plugin.demo import run as demo_run
    from plugin.demo.errors import DemoError
    from plugin.web.auth import login_link

    app = _app()

    def link(shop_id: int) -> str:
        with app.test_request_context():
            return login_link(shop_id)
    try:
        code = demo_run.main(app, seconds=seconds, serve=not exit_after, echo=click.echo, link=link)
    except DemoError as exc:
        _fail(str(exc))
    sys.exit(code)


@main.command()
@click.option("--shop", "shop_id", type=int, default=None, help="only this shop")
def reconcile(shop_id):
    """Poll the platforms once for orders changed since the last sync."""
    from jobs import reconcile as reconcile_job
    from jobs import use_app

    use_app(_app())
    results = reconcile_job.run(shop_id=shop_id)
    _print_json(results)
    failed = [r for r in results if r.get("error")]
    if failed:
        _fail("; ".join(f"shop {r['shop_id']}" + (f" ({r['domain']})" if r.get("domain") else "")
                        + f": {r['error']}" for r in failed))


if __name__ == "__main__":
    main()
