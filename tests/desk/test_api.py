"""The desk through the JSON API: finding incidents with filters and pages, overriding a verdict with a reason
(the compensations follow), resolving, dismissing, notes and the team's own words to the customer; analytics
and crises; and never another shop's rows, by listing or by guessed id."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from plugin.compensation.ledger import plan_for_incident
from plugin.extensions import db
from plugin.storage.models import Compensation, Crisis, Incident, Message
from plugin.vocabulary import CauseType, Kind, Responsibility
from tests.desk.conftest import NOW


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def numbers(r) -> list[str]:
    return [i["order"]["number"] for i in r.get_json()]


def test_filters_search_and_pages_find_a_shops_incidents_newest_first(client, shops):
    h = bearer("token-a")
    assert numbers(client.get("/api/v1/incidents", headers=h)) == ["#103", "#102", "#101", "#100"]
    for query, expected in (("kind=transit_stalled", ["#102", "#101"]), ("responsibility=shop", ["#100"]),
                            ("carrier=correos", ["#101"]), ("country=PT", ["#102"]), ("country=Portugal", ["#102"]),
                            ("sku=SKU-1", ["#103", "#101"]), ("q=101", ["#101"]), ("q=%23102", ["#102"]),
                            ("q=Customer3@Example.es", ["#103"]), ("status=active", ["#103", "#102", "#101", "#100"]),
                            ("status=resolved", []), ("sort=oldest", ["#100", "#101", "#102", "#103"]),
                            (f"from={(NOW - timedelta(days=3)).date()}", ["#103", "#102"]),
                            (f"to={(NOW - timedelta(days=4)).date()}", ["#101", "#100"])):
        assert numbers(client.get(f"/api/v1/incidents?{query}", headers=h)) == expected, query
    first = client.get("/api/v1/incidents?limit=3", headers=h)
    assert numbers(first) == ["#103", "#102", "#101"]
    nxt = first.headers["Link"].split(";")[0].strip("<>")
    assert nxt.startswith("http://127.0.0.1:8000/api/v1/incidents?")  # the public address, never the request's
    assert "before_id=" in nxt and "limit=3" in nxt
    last = client.get(nxt.replace("http://127.0.0.1:8000", ""), headers=h)
    assert numbers(last) == ["#100"] and "Link" not in last.headers
    one = client.get(f"/api/v1/incidents/{shops['ids'][1]}", headers=h).get_json()
    assert one["order"]["carrier"] == "Correos" and one["order"]["country"] == "ES"
    assert one["order"]["items"] == [{"sku": "SKU-1", "title": "Mug", "quantity": 1}]
    assert one["crisis_id"] is None and one["notes"] == []


def test_a_filter_that_cannot_be_read_gets_a_sentence(client, shops):
    h = bearer("token-a")
    for query, words in (("status=lost", "status must be one of"), ("limit=5000", "limit must be"),
                         ("country=Atlantis", "country must be"), ("from=someday", "YYYY-MM-DD"),
                         ("before_id=x", "before_id must be")):
        r = client.get(f"/api/v1/incidents?{query}", headers=h)
        assert r.status_code == 400 and words in r.get_json()["error"], query


def test_overriding_a_verdict_records_the_reason_and_the_compensations_follow(app, client, shops):
    h = bearer("token-a")
    late = shops["ids"][0]  # the shop's late shipment: the default rules owe shipping back and a coupon
    with db(app).session() as s:
        inc = s.get(Incident, late)
        plan_for_incident(s, inc, inc.order, inc.order.shop, NOW)
        s.commit()
    before = client.get(f"/api/v1/incidents/{late}", headers=h).get_json()
    assert sorted(c["action"] for c in before["compensations"]) == ["coupon_percent", "refund_shipping"]
    refused = client.post(f"/api/v1/incidents/{late}/verdict", json={"responsibility": "carrier"}, headers=h)
    assert refused.status_code == 400 and "reason is required" in refused.get_json()["error"]
    r = client.post(f"/api/v1/incidents/{late}/verdict", headers=h, json={
        "responsibility": "carrier", "reason": "The label was scanned on time; Correos collected it two days late."})
    assert r.status_code == 200
    after = r.get_json()
    assert after["responsibility"] == "carrier"
    assert {c["state"] for c in after["compensations"]} == {"cancelled"}  # a shop-fault rule no longer owes them
    fact = after["evidence"][-1]
    assert fact["source"] == "team" and "from shop to carrier by the API" in fact["fact"]
    assert "Correos collected it two days late" in fact["fact"]
    again = client.post(f"/api/v1/incidents/{late}/verdict", headers=h,
                        json={"responsibility": "carrier", "reason": "twice"})
    assert again.status_code == 409
    back = client.post(f"/api/v1/incidents/{late}/verdict", headers=h, json={
        "responsibility": "shop", "reason": "Correos showed us the pick-up scan: it was on time after all."})
    owed = [(c["action"], c["state"]) for c in back.get_json()["compensations"] if c["state"] != "cancelled"]
    assert sorted(owed) == [("coupon_percent", "planned"), ("refund_shipping", "planned")]  # owed again, once

    stalled = shops["ids"][1]  # the carrier's stall, five days old: the shop takes it on, a goodwill coupon
    with db(app).session() as s:  # (the rules owe a carrier's stall of three days or more a 5 % coupon)
        inc = s.get(Incident, stalled)
        plan_for_incident(s, inc, inc.order, inc.order.shop, NOW)
        s.commit()
    r = client.post(f"/api/v1/incidents/{stalled}/verdict", headers=h,
                    json={"responsibility": "shop", "reason": "We gave Correos the wrong address."})
    assert [(c["action"], c["state"]) for c in r.get_json()["compensations"]] == [("coupon_percent", "cancelled")]


def test_a_team_verdict_is_not_undone_by_the_facts_seen_later(app, client, shops):
    from plugin.incidents.findings import Finding
    from plugin.incidents.lifecycle import _update

    h = bearer("token-a")
    stalled = shops["ids"][1]
    client.post(f"/api/v1/incidents/{stalled}/verdict", headers=h,
                json={"responsibility": "shop", "reason": "Our label had the wrong postcode."})
    with db(app).session() as s:
        inc = s.get(Incident, stalled)
        _update(inc, Finding(Kind.TRANSIT_STALLED, Responsibility.CARRIER,
                             [{"at": NOW.isoformat(), "source": "shopify", "fact": "no scan for 6 days"}]))
        s.commit()
        assert s.get(Incident, stalled).responsibility == Responsibility.SHOP


def test_resolve_dismiss_notes_and_words_to_the_customer(app, client, shops):
    h = bearer("token-a")
    first, second, third = shops["ids"][:3]
    note = client.post(f"/api/v1/incidents/{first}/notes", headers=h, json={"text": "Called the warehouse."})
    assert note.status_code == 201 and note.get_json()["notes"][0]["text"] == "Called the warehouse."
    assert client.post(f"/api/v1/incidents/{first}/notes", headers=h, json={"text": " "}).status_code == 400
    assert client.post(f"/api/v1/incidents/{first}/notes", headers=h, data="text").status_code == 400
    said = client.post(f"/api/v1/incidents/{second}/messages", headers=h,
                       json={"text": "Hemos hablado con Correos: tu paquete sale mañana hacia Lugo."})
    assert said.status_code == 201
    with db(app).session() as s:
        msg = s.query(Message).filter_by(incident_id=second, purpose="update").one()
        assert msg.locale == "es" and msg.to_address == "customer1@example.es"
        assert "tu paquete sale mañana hacia Lugo" in msg.body_text and msg.subject.startswith("Pedido #101")
    done = client.post(f"/api/v1/incidents/{second}/resolve", headers=h, json={"note": "Delivered by hand."})
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    assert client.post(f"/api/v1/incidents/{second}/resolve", headers=h).status_code == 409
    gone = client.post(f"/api/v1/incidents/{third}/dismiss", headers=h)
    assert gone.status_code == 200 and gone.get_json()["status"] == "dismissed"
    assert client.post(f"/api/v1/incidents/{third}/shout", headers=h, json={}).status_code == 404


def test_approve_and_cancel_a_compensation(app, client, shops):
    h = bearer("token-a")
    with db(app).session() as s:
        inc = s.get(Incident, shops["ids"][0])
        inc.compensations.append(Compensation(action="refund_amount", amount=Decimal("60"), currency="EUR",
                                              value=Decimal("60"), state="awaiting_approval",
                                              idempotency_key="desk-approve"))
        inc.compensations.append(Compensation(action="coupon_amount", amount=Decimal("5"), currency="EUR",
                                              value=Decimal("5"), state="awaiting_approval",
                                              idempotency_key="desk-cancel"))
        s.commit()
        yes, no = (c.id for c in inc.compensations)
    assert client.post(f"/api/v1/compensations/{yes}/approve", headers=h).get_json()["state"] == "planned"
    assert client.post(f"/api/v1/compensations/{no}/cancel", headers=h).get_json()["state"] == "cancelled"
    assert client.post(f"/api/v1/compensations/{no}/approve", headers=h).status_code == 409


def test_another_shops_rows_are_not_found_by_any_route(app, client, shops):
    h = bearer("token-a")
    theirs = shops["theirs"]
    with db(app).session() as s:
        inc = s.get(Incident, theirs)
        inc.compensations.append(Compensation(action="coupon_amount", amount=Decimal("5"), currency="EUR",
                                              value=Decimal("5"), state="awaiting_approval",
                                              idempotency_key="theirs"))
        crisis = Crisis(shop_id=shops["b"], cause_type=CauseType.PRODUCT, cause={"type": "product", "sku": "X"},
                        cause_key="product:X", opened_at=NOW)
        inc.crisis = crisis
        s.commit()
        comp, crisis_id = inc.compensations[0].id, crisis.id
    assert "#900" not in numbers(client.get("/api/v1/incidents", headers=h))
    assert client.get(f"/api/v1/incidents/{theirs}", headers=h).status_code == 404
    for path, body in ((f"incidents/{theirs}/verdict", {"responsibility": "carrier", "reason": "x"}),
                       (f"incidents/{theirs}/resolve", {}), (f"incidents/{theirs}/dismiss", {}),
                       (f"incidents/{theirs}/notes", {"text": "x"}), (f"incidents/{theirs}/messages", {"text": "x"}),
                       (f"compensations/{comp}/approve", {}), (f"compensations/{comp}/cancel", {}),
                       (f"crises/{crisis_id}/updates", {"text": "x", "send_to_customers": True}),
                       (f"crises/{crisis_id}/compensate", {"action": "coupon_percent", "percent": "10"})):
        assert client.post(f"/api/v1/{path}", headers=h, json=body).status_code == 404, path
    assert client.get("/api/v1/crises", headers=h).get_json() == []
    assert [c["id"] for c in client.get("/api/v1/crises", headers=bearer(shops["token_b"])).get_json()] == [crisis_id]
    with db(app).session() as s:
        inc = s.get(Incident, theirs)
        assert inc.status == "open" and inc.notes == [] and inc.compensations[0].state == "awaiting_approval"
    assert client.get("/api/v1/analytics", headers=h).get_json()["incidents"]["total"] == 4
    assert "#900" not in client.get("/api/v1/analytics.csv", headers=h).get_data(as_text=True)
    assert client.get("/api/v1/incidents", headers=bearer("nope")).status_code == 401


def test_a_crisis_update_and_compensation_through_the_api(app, client, shops):
    h = bearer("token-a")
    with db(app).session() as s:
        crisis = Crisis(shop_id=shops["a"], cause_type=CauseType.CARRIER_REGION,
                        cause={"type": "carrier_region", "carrier": "Correos", "country": "ES", "region": "GA"},
                        cause_key="carrier:Correos:ES:GA", opened_at=NOW, observed=30, expected=3.0)
        for inc_id in shops["ids"][1:3]:
            s.get(Incident, inc_id).crisis = crisis
        s.commit()
        crisis_id = crisis.id
    r = client.post(f"/api/v1/crises/{crisis_id}/updates", headers=h,
                    json={"text": "", "status": "identified", "send_to_customers": True})
    assert r.status_code == 201 and r.get_json()["sent_to"] == 2 and r.get_json()["status"] == "identified"
    assert client.post(f"/api/v1/crises/{crisis_id}/updates", headers=h,
                       json={"status": "sunny"}).status_code == 400
    paid = client.post(f"/api/v1/crises/{crisis_id}/compensate", headers=h,
                       json={"action": "coupon_percent", "percent": "10", "valid_days": 90})
    assert paid.status_code == 201 and [c["state"] for c in paid.get_json()["planned"]] == ["planned", "planned"]
    twice = client.post(f"/api/v1/crises/{crisis_id}/compensate", headers=h,
                        json={"action": "coupon_percent", "percent": "10", "valid_days": 90})
    assert twice.get_json()["planned"] == []
    client.post(f"/api/v1/crises/{crisis_id}/updates", headers=h, json={"text": "All delivered.", "status": "resolved"})
    assert client.post(f"/api/v1/crises/{crisis_id}/updates", headers=h, json={"text": "x"}).status_code == 409


def test_an_offer_the_new_verdict_no_longer_makes_is_withdrawn(app, client, shops):
    from tests.support.status import OFFER, status_incident

    h = bearer("token-a")
    offered, _ = status_incident(app, shops["a"], number="#150", offer=OFFER)
    assert client.get(f"/api/v1/incidents/{offered}", headers=h).get_json()["customer"]["offer"] is not None
    r = client.post(f"/api/v1/incidents/{offered}/verdict", headers=h,
                    json={"responsibility": "customer", "reason": "The customer gave us a wrong address."})
    assert r.get_json()["customer"]["offer"] is None and r.get_json()["compensations"] == []


def test_the_teams_words_after_an_incident_is_closed_promise_nothing_more(app, client, shops):
    h = bearer("token-a")
    stalled = shops["ids"][1]
    client.post(f"/api/v1/incidents/{stalled}/resolve", headers=h)
    r = client.post(f"/api/v1/incidents/{stalled}/messages", headers=h,
                    json={"text": "Nos alegra que haya llegado.\r\n\r\nGracias por tu paciencia."})
    assert r.status_code == 201
    with db(app).session() as s:
        msg = s.query(Message).filter_by(incident_id=stalled, purpose="update").one()
        assert "Nos alegra que haya llegado.\n\nGracias por tu paciencia." in msg.body_text
        assert "próxima actualización" not in msg.body_text and msg.details["next_update_at"] is None


def test_erasing_a_customer_erases_the_teams_notes_about_them(app, client, shops):
    from plugin.orders.facts import ShopEvent
    from plugin.shops import privacy
    from plugin.storage.models import Shop

    h = bearer("token-a")
    client.post(f"/api/v1/incidents/{shops['ids'][0]}/notes", headers=h, json={"text": "Ana at Calle Mayor 3"})
    with db(app).session() as s:
        privacy.erase_customer(s, s.get(Shop, shops["a"]), ShopEvent("redact_customer", "customer0@example.es"))
        s.commit()
        [note] = s.get(Incident, shops["ids"][0]).notes
        assert "Calle Mayor" not in note.text
