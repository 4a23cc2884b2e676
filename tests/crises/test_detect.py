"""A crisis-detection pass over real rows: thirty parcels of one carrier stalled in one region open one
crisis with its incidents and one brief to the team; two late parcels do not; another shop's incidents
never join; new incidents of the cause join while it is open."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from jobs import crises, use_app
from plugin.extensions import config, db
from plugin.storage.models import Crisis, Incident, Order, OrderItem, Shop
from tests.support import smtp as smtp_server
from tests.support.cli import redress
from tests.support.platforms import connect_shopify
from tests.support.work import run_worker

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def inbox(app):
    use_app(app)
    box, controller, url = smtp_server.start()
    config(app).smtp_url = url
    yield box
    controller.stop()


def a_shop(app, domain="tienda.myshopify.com", team=("ops@tienda.example",)) -> int:
    shop_id, _ = connect_shopify(app, domain=domain)
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        shop.policy = {**shop.policy, "communication": {"team_emails": list(team)}}
        s.commit()
    return shop_id


_n = iter(range(1, 10**6))


def stalled(app, shop_id, opened: datetime, carrier="Correos", country="ES", region="GA", n=1,
            responsibility="carrier", kind="transit_stalled") -> list[int]:
    ids = []
    with db(app).session() as s:
        for _ in range(n):
            k = next(_n)
            order = Order(shop_id=shop_id, platform_order_id=f"{shop_id}-{k}", number=f"#{k}", total=Decimal("40"),
                          currency="EUR", customer_email=f"c{k}@example.es", carrier=carrier, country=country,
                          region=region, facts={"order_id": f"{shop_id}-{k}", "country": country})
            inc = Incident(shop_id=shop_id, order=order, kind=kind, responsibility=responsibility, status="open",
                           evidence=[], opened_at=opened, late_since=opened)
            s.add(inc)
            s.flush()
            ids.append(inc.id)
        s.commit()
    return ids


def usual_weeks(app, shop_id):
    """A month of ordinary days: a parcel or two a day held up somewhere."""
    for day in range(1, 29):
        stalled(app, shop_id, NOW - timedelta(days=day, hours=2), region=["M", "B", "GA"][day % 3], n=1 + day % 2)


def the_crises(app) -> list[Crisis]:
    with db(app).session() as s:
        return list(s.execute(select(Crisis).order_by(Crisis.id)).scalars())


def test_thirty_stalled_parcels_in_one_region_open_one_crisis_with_a_brief_for_the_team(app, inbox):
    shop_id = a_shop(app)
    usual_weeks(app, shop_id)
    wave = stalled(app, shop_id, NOW - timedelta(hours=3), n=30)
    elsewhere = stalled(app, shop_id, NOW - timedelta(hours=3), region="M", n=2)

    result = crises.detect(NOW)
    [crisis] = the_crises(app)
    assert result == {"opened": [crisis.id], "joined": 30, "briefs": 1}
    assert crisis.cause == {"type": "carrier_region", "carrier": "Correos", "country": "ES", "region": "GA"}
    assert (crisis.status, crisis.observed) == ("investigating", 30) and crisis.expected < 3
    assert crisis.method.startswith("EARS C2")
    with db(app).session() as s:
        joined = s.execute(select(Incident.id).where(Incident.crisis_id == crisis.id)).scalars().all()
    assert sorted(joined) == wave and not set(elsewhere) & set(joined)

    run_worker(app)
    [mail] = inbox.parsed()
    assert mail["To"] == "ops@tienda.example"
    assert mail["Subject"] == "tienda.myshopify.com: possible crisis, Correos parcels to GA, ES (30 in 24 hours)"
    text = smtp_server.text_of(mail)
    assert "30 incidents in the last 24 hours" in text and "orders worth 1200.00 EUR" in text
    assert "Suggested update for every affected customer" in text and "Correos is having trouble" in text

    assert crises.detect(NOW + timedelta(minutes=15)) == {"opened": [], "joined": 0, "briefs": 0}
    late = stalled(app, shop_id, NOW + timedelta(minutes=20), n=1)
    assert crises.detect(NOW + timedelta(minutes=30))["joined"] == 1  # a new one joins while it is open
    with db(app).session() as s:
        assert s.get(Incident, late[0]).crisis_id == crisis.id
    run_worker(app)
    assert len(inbox.parsed()) == 1  # one brief per crisis


def test_two_late_parcels_are_never_a_crisis(app, inbox):
    shop_id = a_shop(app)
    stalled(app, shop_id, NOW - timedelta(hours=1), n=2)
    assert crises.detect(NOW) == {"opened": [], "joined": 0, "briefs": 0}
    assert the_crises(app) == []


def test_another_shops_incidents_never_join_a_crisis_and_each_shop_lists_its_own(app, inbox):
    a = a_shop(app)
    b = a_shop(app, domain="otra.myshopify.com", team=("ops@otra.example",))
    stalled(app, a, NOW - timedelta(hours=2), n=12)
    theirs = stalled(app, b, NOW - timedelta(hours=2), n=3)
    crises.detect(NOW)
    [crisis] = the_crises(app)
    assert crisis.shop_id == a
    with db(app).session() as s:
        assert all(s.get(Incident, i).crisis_id is None for i in theirs)
    listed = json.loads(redress(app, "crises", "list", "--shop", str(b), "--json").stdout)
    assert listed == []
    [mine] = json.loads(redress(app, "crises", "list", "--shop", str(a), "--json").stdout)
    assert set(mine) >= {"id", "status", "cause", "opened_at", "resolved_at", "incident_ids", "observed",
                         "expected", "method", "updates"}
    assert len(mine["incident_ids"]) == 12 and mine["updates"] == [] and mine["resolved_at"] is None


def test_a_product_and_a_payment_gateway_are_causes_too(app, inbox):
    shop_id = a_shop(app)
    with db(app).session() as s:
        for k in range(10):
            order = Order(shop_id=shop_id, platform_order_id=f"p{k}", number=f"#p{k}", total=Decimal("20"),
                          currency="EUR", customer_email=f"p{k}@example.es", gateway="Redsys", facts={})
            s.add(Incident(shop_id=shop_id, order=order, kind="payment_failed", responsibility="payment",
                           status="open", evidence=[], opened_at=NOW - timedelta(hours=1)))
        for k in range(9):  # out of stock: late to leave, the shop's doing
            order = Order(shop_id=shop_id, platform_order_id=f"m{k}", number=f"#m{k}", total=Decimal("20"),
                          currency="EUR", customer_email=f"m{k}@example.es", facts={},
                          items=[OrderItem(shop_id=shop_id, sku="MUG-BLUE", title="Taza azul", quantity=1),
                                 OrderItem(shop_id=shop_id, sku=f"OTHER-{k}", title="Otra cosa", quantity=1)])
            s.add(Incident(shop_id=shop_id, order=order, kind="fulfillment_late", responsibility="shop",
                           status="open", evidence=[], opened_at=NOW - timedelta(hours=1)))
        s.commit()
    crises.detect(NOW)
    product, payment = json.loads(redress(app, "crises", "list", "--json").stdout)  # newest first
    assert payment["cause"] == {"type": "payment", "gateway": "Redsys"} and len(payment["incident_ids"]) == 10
    assert product["cause"] == {"type": "product", "sku": "MUG-BLUE"} and len(product["incident_ids"]) == 9


def test_a_detection_pass_from_the_command_line(app, inbox):
    shop_id = a_shop(app)
    stalled(app, shop_id, NOW - timedelta(hours=1), n=9)
    out = redress(app, "crises", "detect")
    assert json.loads(out.stdout)["joined"] == 9 and "1 crisis(es) opened" in out.stderr


def test_the_crisis_settings_are_checked_like_the_rest_of_the_policy(app, tmp_path):
    shop_id = a_shop(app)
    policy = json.loads(redress(app, "shops", "policy", str(shop_id), "--json").stdout)
    policy["crises"] = {"min_incidents": 1, "binomial_alpha": "often", "when": "always"}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    result = redress(app, "shops", "policy", str(shop_id), "--set", str(path), check=False)
    assert result.exit_code == 2
    assert "Crises: min incidents must be a whole number from 3 to 10000, not 1" in result.stderr
    assert "binomial alpha" in result.stderr and "unknown setting 'when'" in result.stderr
    policy["crises"] = {"min_incidents": 20}
    path.write_text(json.dumps(policy))
    redress(app, "shops", "policy", str(shop_id), "--set", str(path))
    stalled(app, shop_id, NOW - timedelta(hours=1), n=15)
    assert crises.detect(NOW)["opened"] == []  # 15 is below this shop's own minimum


def _post(app, crisis_id, **kw):
    from jobs import notify
    from plugin.crises.actions import post_update
    from plugin.messages.links import status_url
    from plugin.vocabulary import Channel

    with db(app).session() as s:
        crisis = s.get(Crisis, crisis_id)
        posted = post_update(s, crisis, now=datetime.now(UTC), status_url=lambda i: status_url(app, i),
                             channel=Channel.EMAIL, mail_from="Redress <no-reply@redress.example>", **kw)
        s.commit()
        ids = [m.id for m in posted.messages]
    for i in ids:
        notify.send(i)
    return ids


def test_one_update_reaches_every_affected_customer_once_in_their_language(app, inbox):
    from tests.support.platforms import wake

    shop_id = a_shop(app)
    wake(app)
    spanish = stalled(app, shop_id, NOW - timedelta(hours=2), n=8)
    english = stalled(app, shop_id, NOW - timedelta(hours=2), n=2, country="ES", region="GA")
    with db(app).session() as s:
        for i in english:
            s.get(Incident, i).locale = "en"
        s.commit()
    [crisis_id] = crises.detect(NOW)["opened"]
    run_worker(app)  # the brief
    assert len(_post(app, crisis_id, text="", status="identified", send_to_customers=True)) == 10
    customers = [m for m in inbox.parsed() if m["To"] != "ops@tienda.example"]
    assert len(customers) == 10 and len({m["To"] for m in customers}) == 10  # each once
    es = next(m for m in customers if m["Subject"].startswith("Pedido"))
    assert "Correos está teniendo problemas para entregar en tu zona" in smtp_server.text_of(es)
    assert "Te enviaremos la próxima actualización como muy tarde el" in smtp_server.text_of(es)
    en = next(m for m in customers if m["Subject"].startswith("Order"))
    assert "Correos is having trouble delivering in your area" in smtp_server.text_of(en)

    _post(app, crisis_id, text="Correos has cleared the backlog in Galicia; parcels move again from Monday.",
          status="monitoring", send_to_customers=True)
    latest = [m for m in inbox.parsed() if m["To"] != "ops@tienda.example"][10:]
    assert len(latest) == 10 and all("cleared the backlog" in smtp_server.text_of(m) for m in latest)
    with db(app).session() as s:
        msgs = s.execute(select(Incident).where(Incident.id.in_(spanish[:1]))).scalar_one().messages
        assert [(m.purpose, m.sequence) for m in msgs] == [("crisis", 1), ("crisis", 2)]
    [row] = json.loads(redress(app, "crises", "list", "--json").stdout)
    assert row["status"] == "monitoring"
    assert [(u["status"], u["sent_to"]) for u in row["updates"]] == [("identified", 10), ("monitoring", 10)]


def test_an_update_the_crisis_cannot_take_is_refused_and_changes_nothing(app, inbox):
    from plugin.crises.actions import CrisisError

    shop_id = a_shop(app)
    stalled(app, shop_id, NOW - timedelta(hours=2), n=9)
    [crisis_id] = crises.detect(NOW)["opened"]
    with pytest.raises(CrisisError, match="status must be one of"):
        _post(app, crisis_id, text="x", status="solved", send_to_customers=True)
    with pytest.raises(CrisisError, match="longer than 5,000"):
        _post(app, crisis_id, text="x" * 5001, status=None, send_to_customers=True)
    _post(app, crisis_id, text="Correos confirmed the cause and it is fixed.", status="resolved",
          send_to_customers=False)
    with pytest.raises(CrisisError, match="resolved"):
        _post(app, crisis_id, text="again", status=None, send_to_customers=True)
    [row] = json.loads(redress(app, "crises", "list", "--json").stdout)
    assert row["status"] == "resolved" and row["resolved_at"] and row["summary"].startswith("Correos confirmed")
    assert [u["sent_to"] for u in row["updates"]] == [0]


def test_the_team_updates_a_crisis_from_the_command_line(app, inbox):
    from tests.support.platforms import wake

    shop_id = a_shop(app)
    wake(app)
    stalled(app, shop_id, NOW - timedelta(hours=2), n=9)
    [crisis_id] = crises.detect(NOW)["opened"]
    out = redress(app, "crises", "update", str(crisis_id), "--status", "identified", "--send",
                  "--text", "Correos tells us a storm closed its Galicia hub; parcels move again tomorrow.")
    assert "9 customer(s) to be told" in out.stderr
    run_worker(app)
    told = [m for m in inbox.parsed() if m["To"] != "ops@tienda.example"]
    assert len(told) == 9 and all("storm closed its Galicia hub" in smtp_server.text_of(m) for m in told)
    missing = redress(app, "crises", "update", "999", "--status", "identified", check=False)
    assert missing.exit_code != 0 and "no crisis 999" in missing.stderr


def test_one_decision_compensates_every_affected_customer_once(app, shopify, inbox):
    with db(app).session() as s:
        s.get(Shop, shopify.shop_id).policy = {**s.get(Shop, shopify.shop_id).policy,
                                               "communication": {"team_emails": ["ops@tienda.example"]}}
        s.commit()
    wave = stalled(app, shopify.shop_id, NOW - timedelta(hours=2), n=9)
    [crisis_id] = crises.detect(NOW)["opened"]
    bad = redress(app, "crises", "compensate", str(crisis_id), "--action", "coupon_percent", check=False)
    assert bad.exit_code != 0 and "percent is missing" in bad.stderr
    out = redress(app, "crises", "compensate", str(crisis_id), "--action", "coupon_percent", "--percent", "10")
    assert "9 compensation(s) planned and approved" in out.stderr
    again = redress(app, "crises", "compensate", str(crisis_id), "--action", "coupon_percent", "--percent", "10")
    assert "0 compensation(s)" in again.stderr  # the same decision twice gives nothing twice
    run_worker(app)
    with db(app).session() as s:
        comps = [c for i in wave for c in s.get(Incident, i).compensations]
        assert [(c.action, c.state, str(c.percent)) for c in comps] == [("coupon_percent", "issued", "10.000")] * 9
        codes = {c.code for c in comps}
    assert len(codes) == 9 and codes == {d["input"]["code"] for d in shopify.discounts.values()}
