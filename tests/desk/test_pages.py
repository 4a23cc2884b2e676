"""The desk's pages for the signed-in shop: the list with its filters and pages, one incident and what the team
does with it, a crisis with its banner, update and decision; inside the Shopify admin too; never another
shop's incident or crisis, by link or guessed id."""

from __future__ import annotations

import re

from plugin.extensions import db
from plugin.storage.models import Crisis, Incident, Message
from plugin.vocabulary import CauseType
from tests.desk.conftest import NOW
from tests.web.test_settings import sign_in


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_the_list_filters_and_links_each_incident(app, client, shops):
    assert client.get("/incidents").status_code == 401
    sign_in(app, client, shops["a"])
    page = client.get("/incidents").get_data(as_text=True)
    assert "4 incidents" in page and ">#103</a>" in page and "#900" not in page
    assert "/static/vendor/htmx-2.0.8.min.js" in page
    stalled = client.get("/incidents?kind=transit_stalled&carrier=UPS").get_data(as_text=True)
    assert "1 incident<" in stalled and ">#102</a>" in stalled and ">#101</a>" not in stalled
    assert f'href="/incidents/{shops["ids"][2]}"' in stalled
    found = client.get("/incidents?q=101").get_data(as_text=True)
    assert ">#101</a>" in found and ">#100</a>" not in found
    none = client.get("/incidents?q=999").get_data(as_text=True)
    assert "No incident matches these filters." in none
    bad = client.get("/incidents?from=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    first = client.get("/incidents?limit=3").get_data(as_text=True)
    nxt = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(nxt).get_data(as_text=True)
    assert ">#100</a>" in second and ">#103</a>" not in second and "First page" in second


def test_the_detail_page_overrides_a_verdict_writes_notes_and_words(app, client, shops):
    sign_in(app, client, shops["a"])
    inc = shops["ids"][1]
    page = client.get(f"/incidents/{inc}").get_data(as_text=True)
    assert "Order #101: transit stalled" in page and "writes in Spanish" in page
    token = csrf_of(page)
    refused = client.post(f"/incidents/{inc}/verdict", data={"csrf": token, "responsibility": "shop", "reason": ""})
    assert refused.status_code == 400 and "A reason is required." in refused.get_data(as_text=True)
    assert client.post(f"/incidents/{inc}/verdict", data={"responsibility": "shop", "reason": "x"}).status_code == 400
    r = client.post(f"/incidents/{inc}/verdict", data={"csrf": token, "responsibility": "shop",
                                                       "reason": "We printed the wrong postcode on the label."})
    assert r.status_code == 303
    after = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "The verdict is changed" in after and "<strong>shop</strong>" in after
    assert "We printed the wrong postcode on the label." in after
    client.post(f"/incidents/{inc}/notes", data={"csrf": token, "text": "Reprinted the label."})
    for _ in range(2):  # a double click: the same form twice
        client.post(f"/incidents/{inc}/messages", data={"csrf": token, "nonce": "form-1",
                                                       "text": "Hola Lucía: tu pedido sale hoy."})
    page = client.get(f"/incidents/{inc}").get_data(as_text=True)
    assert "Reprinted the label." in page and "Hola Lucía: tu pedido sale hoy." in page
    with db(app).session() as s:
        assert s.query(Message).filter_by(incident_id=inc, purpose="update").one().locale == "es"
    client.post(f"/incidents/{inc}/resolve", data={"csrf": token, "note": ""})
    assert "Resolved." in client.get(f"/incidents/{inc}?done=resolve").get_data(as_text=True)
    again = client.post(f"/incidents/{inc}/resolve", data={"csrf": token})
    assert again.status_code == 409 and "resolved already" in again.get_data(as_text=True)


def test_a_crisis_shows_a_banner_takes_one_update_and_one_decision(app, client, shops):
    with db(app).session() as s:
        crisis = Crisis(shop_id=shops["a"], cause_type=CauseType.CARRIER_REGION, observed=30, expected=3.0,
                        cause={"type": "carrier_region", "carrier": "Correos", "country": "ES", "region": "GA"},
                        cause_key="carrier:Correos:ES:GA", opened_at=NOW, method="EARS C2 of 9.1")
        for inc_id in shops["ids"][1:3]:
            s.get(Incident, inc_id).crisis = crisis
        s.commit()
        crisis_id = crisis.id
    sign_in(app, client, shops["a"])
    listing = client.get("/incidents").get_data(as_text=True)
    assert "Crisis: Correos parcels to GA, ES, 2 customers affected" in listing
    page = client.get(f"/crises/{crisis_id}").get_data(as_text=True)
    assert "Correos está teniendo problemas para entregar en tu zona" in page  # the suggested words, per language
    token = csrf_of(page)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    r = client.post(f"/crises/{crisis_id}/updates", data={
        "csrf": token, "nonce": nonce, "text-en": "Correos is stuck in Galicia.",
        "text-es": "Correos está atascado en Galicia.",
        "status": "identified", "send": "1"})
    assert r.status_code == 303
    again = client.post(f"/crises/{crisis_id}/updates", data={  # the same form again: nobody is told twice
        "csrf": token, "nonce": nonce,
        "text-en": "x", "status": "identified", "send": "1"})
    assert again.status_code == 303
    with db(app).session() as s:
        sent = s.query(Message).filter_by(purpose="crisis").all()
        words = {"es": "Correos está atascado en Galicia.", "en": "Correos is stuck in Galicia."}
        assert len(sent) == 2 and {m.locale for m in sent} == {"es", "en"}  # one customer in Spain, one in Portugal
        assert all(words[m.locale] in m.body_text for m in sent)
    r = client.post(f"/crises/{crisis_id}/compensate", data={"csrf": token, "action": "coupon_percent",
                                                            "percent": "10", "amount": "", "valid_days": "90"})
    assert r.status_code == 303
    assert "Compensation planned for every affected customer." in client.get(r.headers["Location"]).get_data(
        as_text=True)
    with db(app).session() as s:
        assert s.get(Crisis, crisis_id).status == "identified"
        assert all(len(s.get(Incident, i).compensations) == 1 for i in shops["ids"][1:3])
    unsaid = client.post(f"/crises/{crisis_id}/updates", data={"csrf": token, "text-en": "", "text-es": "",
                                                              "status": "resolved", "send": "1"})
    assert unsaid.status_code == 400 and "write what happened" in unsaid.get_data(as_text=True).lower()


def test_another_shops_incident_and_crisis_are_not_found(app, client, shops):
    with db(app).session() as s:
        crisis = Crisis(shop_id=shops["b"], cause_type=CauseType.PRODUCT, cause={"type": "product", "sku": "X"},
                        cause_key="product:X", opened_at=NOW)
        s.add(crisis)
        s.commit()
        crisis_id = crisis.id
    sign_in(app, client, shops["a"])
    token = csrf_of(client.get(f"/incidents/{shops['ids'][0]}").get_data(as_text=True))
    theirs = shops["theirs"]
    assert client.get(f"/incidents/{theirs}").status_code == 404
    assert client.get(f"/crises/{crisis_id}").status_code == 404
    assert "orders with X" not in client.get("/incidents").get_data(as_text=True)
    for path in (f"/incidents/{theirs}/notes", f"/incidents/{theirs}/resolve", f"/crises/{crisis_id}/updates",
                 f"/crises/{crisis_id}/compensate"):
        assert client.post(path, data={"csrf": token, "text": "x", "send": "1"}).status_code == 404, path
    with db(app).session() as s:
        assert s.get(Incident, theirs).notes == [] and s.get(Crisis, crisis_id).updates == []


def test_inside_the_shopify_admin_the_desk_takes_id_tokens_instead_of_cookies(shopify_app, fake_shopify):
    from tests.support.status import status_incident, status_shop
    from tests.web.test_embedded import id_token

    app, client = shopify_app, shopify_app.test_client()
    shop = status_shop(app)
    inc, _ = status_incident(app, shop, number="#5005")
    args = {"embedded": "1", "host": "YWRtaW4", "shop": "snowdevil.myshopify.com"}
    page = client.get("/incidents", query_string={**args, "id_token": id_token("snowdevil.myshopify.com")})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and ">#5005</a>" in html and "app-bridge.js" in html
    assert f"/incidents/{inc}?embedded=1&amp;host=YWRtaW4" in html  # links stay inside the admin
    forged = client.get("/incidents", query_string={**args, "id_token": id_token("snowdevil.myshopify.com",
                                                                                   secret="not-the-secret")})
    assert ">#5005</a>" not in forged.get_data(as_text=True)
    detail = client.get(f"/incidents/{inc}", query_string={**args, "id_token": id_token("snowdevil.myshopify.com")})
    assert 'name="id_token"' in detail.get_data(as_text=True)
    stale = client.post(f"/incidents/{inc}/notes", query_string=args, data={"text": "no token"})
    assert stale.status_code != 303
    noted = client.post(f"/incidents/{inc}/notes", query_string=args,
                        data={"text": "Checked in the admin.", "id_token": id_token("snowdevil.myshopify.com")})
    assert noted.status_code == 303 and "embedded=1" in noted.headers["Location"]
    with db(app).session() as s:
        assert [n.text for n in s.get(Incident, inc).notes] == ["Checked in the admin."]
