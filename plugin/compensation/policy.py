"""The policy a new shop starts with (CONTRACT.md, "Default compensation policy")."""

from __future__ import annotations

import copy
from typing import Any

from plugin.orders.timing import DEFAULT_TIMING

DEFAULT_POLICY: dict[str, Any] = {
    # The shop's time zone lives on the shop itself; this is the rest of its calendar and deadlines.
    "timing": DEFAULT_TIMING,
    # How customers can reach the shop (shown in messages and on the status page) and the languages spoken.
    "contact": {"email": "", "phone": "", "whatsapp": ""},
    "languages": ["en", "es"],
    "caps": {"per_order_percent_of_total": "30", "approval_above": "50"},
    "rules": [
        {"name": "Shop fault: refund shipping and a 10 % coupon",
         "when": {"responsibility": ["shop"],
                  "kind": ["fulfillment_late", "pickup_late", "order_cancelled"]},
         "then": [{"action": "refund_shipping"},
                  {"action": "coupon_percent", "percent": "10", "valid_days": 90}]},
        {"name": "Carrier delay of 3 days or more: a 5 % goodwill coupon",
         "when": {"responsibility": ["carrier"],
                  "kind": ["transit_stalled", "delivery_late", "delivery_failed"], "min_delay_days": 3},
         "then": [{"action": "coupon_percent", "percent": "5", "valid_days": 90}]},
        {"name": "Lost parcel: full refund, held for approval",
         "when": {"responsibility": ["carrier"], "kind": ["lost"]},
         "then": [{"action": "refund_percent", "percent": "100"}], "approval": "always"},
    ],
}


def default_policy() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_POLICY)
