"""The merchant's desk in a real browser (Playwright driving Debian's Chromium): find a late order by its
number, change its verdict with a reason and see the compensations follow; face 30 stalled parcels of one
carrier in one region as one crisis, approve one update every customer receives once in their language and
compensate them all in one decision; read on the analytics page what cost the most."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy
from sqlalchemy.orm import Session

from plugin.storage.models import Crisis, Incident, Message, Order, OrderItem
from tests.end_to_end.test_browser import DOCS, REDRESS, install_link, late_order

STALLED = 30


def redress(env: dict, *args: str) -> str:
    return subprocess.run([REDRESS, *args], env=env, check=True, capture_output=True, text=True, timeout=120).stdout


def change_policy(env: dict, change) -> None:
    policy = json.loads(redress(env, "shops", "policy", "1", "--json"))
    change(policy)
    path = Path(env["REDRESS_INSTANCE_DIR"]).parent / "policy.json"
    path.write_text(json.dumps(policy))
    redress(env, "shops", "policy", "1", "--set", str(path))


def stalled_parcels(env: dict) -> None:
    """30 Correos parcels to Galicia stalled in the last hours, half of them Spanish customers'."""
    engine = sqlalchemy.create_engine(env["DATABASE_URL"])
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(engine) as s:
        for n in range(STALLED):
            spanish = n % 2 == 0
            order = Order(shop_id=1, platform_order_id=str(5000 + n), number=f"#{5000 + n}",
                          customer_email=f"{'cliente' if spanish else 'customer'}{n}@example.com",
                          total=Decimal("40.00"), shipping=Decimal("4.90"), currency="USD",
                          financial_status="paid", paid_at=now - timedelta(days=6), shipped_at=now - timedelta(days=5),
                          carrier="Correos", country="ES", region="GA",
                          facts={"order_id": str(5000 + n), "locale": "es" if spanish else "en", "country": "ES"})
            order.items.append(OrderItem(shop_id=1, sku="LAMP-GA" if n % 3 else "MUG", title="Lamp", quantity=1))
            order.incidents.append(Incident(shop_id=1, kind="transit_stalled", responsibility="carrier",
                                            status="open", opened_at=now - timedelta(minutes=10 * n),
                                            late_since=now - timedelta(days=2), evidence=[
                                                {"at": now.isoformat(), "source": "carrier",
                                                 "fact": "no scan for 4 days"}]))
            s.add(order)
        s.commit()
    engine.dispose()


def query(env: dict, model, **where):
    engine = sqlalchemy.create_engine(env["DATABASE_URL"])
    with Session(engine) as s:
        rows = s.query(model).filter_by(**where).all()
        s.expunge_all()
    engine.dispose()
    return rows


def test_a_late_order_found_by_number_gets_another_verdict_and_its_compensations_follow(server, page):
    base, env, fake = server
    page.goto(install_link(base))
    page.get_by_text("Redress is connected to snowdevil.myshopify.com").wait_for()
    change_policy(env, lambda p: p["caps"].update(approval_above="0"))  # every compensation waits for approval
    late_order(base, env, 1001)
    late_order(base, env, 1002)

    page.goto(f"{base}/incidents")
    page.get_by_role("heading", name="Incidents").wait_for()
    assert page.locator("#count").inner_text() == "2 incidents"
    page.get_by_label("Order number or customer e-mail").fill("1001")  # htmx: the list follows as one types
    page.wait_for_function("document.querySelector('#count').innerText === '1 incident'")
    assert "q=1001" in page.url
    page.screenshot(path=str(DOCS / "desk-incidents.png"), full_page=True)
    page.get_by_role("link", name="#1001").click()
    page.get_by_role("heading", name="Order #1001: fulfillment late").wait_for()
    compensations = page.locator("#compensations")
    assert compensations.inner_text().count("awaiting approval") == 2

    page.get_by_label("Whose fault it is").select_option("carrier")
    page.get_by_label("Why (kept as evidence)").fill("The label was printed on time; Correos collected it late.")
    page.get_by_role("button", name="Change the verdict").click()
    page.get_by_role("status").get_by_text("The verdict is changed").wait_for()
    assert page.locator("#verdict").inner_text() == "carrier"
    assert compensations.inner_text().count("cancelled") == 2  # a shop's late shipment no longer owes them
    assert "Correos collected it late." in page.locator("ol.story").inner_text()

    page.get_by_label("Internal note").fill("Asked Correos for their pick-up scan.")
    page.get_by_role("button", name="Add the note").click()
    page.get_by_role("status").get_by_text("Note added.").wait_for()
    page.get_by_label("Write to the customer").fill("We have asked Correos where your parcel is; more tomorrow.")
    page.get_by_role("button", name="Send").click()
    page.get_by_role("status").get_by_text("on its way to the customer").wait_for()
    page.screenshot(path=str(DOCS / "desk-incident.png"), full_page=True)
    [words] = [m for m in query(env, Message, purpose="update") if "more tomorrow" in m.body_text]
    assert words.to_address and words.subject == "Order #1001: a message from snowdevil.myshopify.com"

    page.goto(f"{base}/incidents?q=%231002")
    page.get_by_role("link", name="#1002").click()
    page.get_by_role("button", name="Approve").first.click()
    page.get_by_role("status").get_by_text("Approved").wait_for()
    redress(env, "worker", "--burst")
    page.reload()
    assert "issued" in page.locator("#compensations").inner_text()


def test_thirty_stalled_parcels_become_one_crisis_with_one_update_and_one_decision(server, page):
    base, env, fake = server
    page.goto(install_link(base))
    page.get_by_text("Redress is connected to snowdevil.myshopify.com").wait_for()
    change_policy(env, lambda p: p["communication"].update(team_emails=["ops@snowdevil.example"]))
    late_order(base, env, 1001)  # sets a daytime zone for the shop: nothing is held for quiet hours
    stalled_parcels(env)
    redress(env, "crises", "detect")
    [brief] = [m for m in query(env, Message, audience="team") if m.incident_id is None]
    assert "Correos parcels to GA, ES" in brief.subject and f"Customers affected so far: {STALLED}" in brief.body_text

    page.goto(f"{base}/incidents")
    banner = page.get_by_role("status").filter(has_text="Crisis: Correos parcels to GA, ES")
    assert f"{STALLED} customers affected" in banner.inner_text()
    banner.get_by_role("link", name="Face it as one crisis").click()
    page.get_by_role("heading", name="Crisis: Correos parcels to GA, ES").wait_for()
    spanish = page.get_by_label("In Spanish")
    assert "Correos está teniendo problemas" in spanish.input_value()
    spanish.fill("Correos tiene retenidos en Galicia muchos paquetes, entre ellos el tuyo. Te escribimos mañana.")
    page.get_by_label("In English").fill("Correos is holding many parcels in Galicia, yours among them. "
                                         "We will write again tomorrow.")
    page.get_by_label("Status").select_option("identified")
    page.screenshot(path=str(DOCS / "crisis.png"), full_page=True)
    page.get_by_role("button", name="Approve the update").click()
    page.get_by_role("status").get_by_text("Update recorded.").wait_for()
    sent = query(env, Message, purpose="crisis")
    assert len(sent) == STALLED and len({m.incident_id for m in sent}) == STALLED  # each customer once
    assert all(("Te escribimos mañana." if m.locale == "es" else "We will write again tomorrow.") in m.body_text
               for m in sent) and {m.locale for m in sent} == {"es", "en"}

    page.get_by_label("Percent (for a percent refund or coupon)").fill("lots")
    page.get_by_role("button", name=f"Compensate {STALLED} customers").click()
    page.get_by_role("alert").get_by_text("percent must be").wait_for()  # refused, in words, nothing planned
    assert query(env, Message, purpose="compensation") == []
    page.get_by_label("Percent (for a percent refund or coupon)").fill("10")
    page.get_by_role("button", name=f"Compensate {STALLED} customers").click()
    page.get_by_role("status").get_by_text("Compensation planned for every affected customer.").wait_for()
    before = len(fake.discounts)
    redress(env, "worker", "--burst")
    assert len(fake.discounts) - before == STALLED
    [crisis] = query(env, Crisis)
    assert crisis.status == "identified" and len(crisis.updates) == 1

    page.goto(f"{base}/analytics")
    page.get_by_role("heading", name="Analytics for snowdevil.myshopify.com").wait_for()
    assert page.locator("table.by-carrier tbody tr").first.inner_text().startswith("Correos")
    assert page.locator("table.by-product tbody tr").first.inner_text().startswith("LAMP-GA")
    assert page.evaluate("Chart.getChart('by-week') !== undefined && Chart.getChart('by-carrier') !== undefined")
    page.screenshot(path=str(DOCS / "analytics.png"), full_page=True)
