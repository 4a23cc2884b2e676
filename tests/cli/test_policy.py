"""`redress shops policy`: a shop's whole policy printed, or replaced after the settings page's own checks."""

from __future__ import annotations

import json

from plugin.compensation.policy import default_policy
from plugin.extensions import db
from plugin.storage.models import Shop
from tests.support.cli import redress
from tests.support.platforms import connect_shopify


def _stored(app, shop_id):
    with db(app).session() as s:
        return s.get(Shop, shop_id).policy


def test_the_policy_is_printed_and_replaced_from_a_file(app, tmp_path):
    shop_id, _ = connect_shopify(app)
    printed = json.loads(redress(app, "shops", "policy", str(shop_id), "--json").stdout)
    assert printed["rules"] == default_policy()["rules"]
    printed["caps"]["approval_above"] = "20"
    # Written loosely, as a merchant might: stored the one way the settings page stores it.
    printed["communication"] = {"max_silence_hours": "100", "team_emails": [" Team@Shop.example "]}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(printed))
    result = redress(app, "shops", "policy", str(shop_id), "--set", str(path))
    assert "Saved the policy of shop" in result.stderr
    assert _stored(app, shop_id)["caps"]["approval_above"] == "20"
    stored = _stored(app, shop_id)["communication"]
    assert (stored["max_silence_hours"], stored["team_emails"]) == (100, ["team@shop.example"])
    assert stored["quiet_hours"] == {"from": "22:00", "to": "08:00"}  # the defaults, written out


def test_a_policy_with_problems_is_refused_whole_with_every_problem(app, tmp_path):
    shop_id, _ = connect_shopify(app)
    before = _stored(app, shop_id)
    bad = default_policy()
    bad["rules"][0]["then"] = [{"action": "refund_everything"}]
    bad["contact"]["email"] = "not-an-address"
    bad["languages"] = ["fr"]
    bad["communication"] = {"max_silence_hours": 400, "quiet_hours": {"from": "20:00", "to": "20:00"}}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(bad))
    result = redress(app, "shops", "policy", str(shop_id), "--set", str(path), check=False)
    assert result.exit_code == 2
    errors = result.stderr
    for expected in ("'refund_everything' is not one of", "'not-an-address' is not an email address",
                     "not fr", "The longest silence must be from 24 to 168 hours, not 400",
                     "Quiet hours must last from a minute to 12 hours"):
        assert expected in errors
    assert _stored(app, shop_id) == before


def test_a_file_that_is_not_json_changes_nothing(app, tmp_path):
    shop_id, _ = connect_shopify(app)
    path = tmp_path / "policy.json"
    path.write_text("{rules: [")
    result = redress(app, "shops", "policy", str(shop_id), "--set", str(path), check=False)
    assert result.exit_code == 2 and "is not JSON" in result.stderr
    assert redress(app, "shops", "policy", "999", "--json", check=False).exit_code == 1
