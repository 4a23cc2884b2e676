"""A property over random interleavings of retries, timeouts, crashes and duplicate runs: one refund, once."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connectors
from connectors.http import PlatformError, Retry
from jobs import compensate, use_app
from jobs.compensate import request_for
from plugin.extensions import config, db, vault
from plugin.shops.tokens import shop_access
from plugin.storage.models import Compensation, Incident, Order, Shop
from simulated.woocommerce import FakeWooCommerce
from tests.support.platforms import connect_woocommerce, wc_order

EVENTS = st.sampled_from(["run", "run", "fails_500", "answer_lost", "worker_killed_after_call", "two_runs"])
_ids = itertools.count(5000)


def _new_compensation(app, shop_id: int, fake: FakeWooCommerce) -> int:
    n = next(_ids)
    fake.add(wc_order(id=n, number=str(n), total="50.00"))
    now = datetime.now(UTC)
    with db(app).session() as s:
        order = Order(shop_id=shop_id, platform_order_id=str(n), number=f"#{n}", total=Decimal("50.00"),
                      shipping=Decimal("5.00"), currency="USD", customer_email="a@example.com", facts={})
        incident = Incident(shop_id=shop_id, order=order, kind="fulfillment_late", responsibility="shop",
                            status="compensating", evidence=[], opened_at=now, late_since=now)
        comp = Compensation(incident=incident, action="refund_amount", amount=Decimal("7.50"), currency="USD",
                            value=Decimal("7.50"), state="planned", idempotency_key=f"rdr-prop-{n}", notes=[])
        s.add_all([order, incident, comp])
        s.commit()
        return comp.id, n


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_any_interleaving_of_failures_moves_the_money_exactly_once(app, httpserver):
    fake = FakeWooCommerce(httpserver)
    fake.timeout_seconds = 0.3
    shop_id, _ = connect_woocommerce(app, url=fake.url)
    use_app(app)
    retry = Retry(attempts=1, timeout=0.2)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(events=st.lists(EVENTS, max_size=6))
    def scenario(events):
        comp_id, order_id = _new_compensation(app, shop_id, fake)

        def run():
            with contextlib.suppress(PlatformError):  # RQ would schedule the retry
                compensate.issue(comp_id, retry=retry)

        for event in events:
            fake.failures = []
            if event == "run":
                run()
            elif event == "two_runs":
                run()
                run()
            elif event == "fails_500":
                fake.failures = [("refunds", "500")]
                run()
            elif event == "answer_lost":
                fake.failures = [("refunds", "timeout_after")]
                run()
            elif event == "worker_killed_after_call":
                with db(app).session() as s:
                    comp = s.get(Compensation, comp_id)
                    if comp.state not in ("planned", "issuing"):
                        continue  # a worker would have stopped before calling
                    resumed = comp.state == "issuing"
                    comp.state = "issuing"  # committed before the call, as the job does
                    s.commit()
                    order = comp.incident.order
                    access = shop_access(s.get(Shop, shop_id), vault(app), config(app).shopify_api_version)
                    woo = connectors.get("woocommerce")
                    request = request_for(comp, order)
                    if resumed and woo.find_issued(access, request, retry=retry):
                        continue  # the job asks first; dying after that changes nothing
                    woo.issue(access, request, retry=retry)
                    # ...and the worker dies here, before recording anything.
        fake.failures = []
        for _ in range(3):  # the retries RQ and the sweep would go on making
            run()
        with db(app).session() as s:
            comp = s.get(Compensation, comp_id)
            assert comp.state == "issued"
            refunds = fake.refunds.get(order_id, [])
            assert len(refunds) == 1, events
            assert comp.platform_ref == f"refund:{refunds[0]['id']}"

    scenario()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_run_of_the_previous_release_still_keeps_this_one_off_the_store(app, httpserver):
    """During a deploy old and new workers run side by side: a compensation one of them is issuing (its lock
    held under the same key) is left alone by the other, and nothing reaches the store twice."""
    from plugin.extensions import redis_conn

    fake = FakeWooCommerce(httpserver)
    shop_id, _ = connect_woocommerce(app, url=fake.url)
    use_app(app)
    comp_id, order_id = _new_compensation(app, shop_id, fake)
    redis_conn(app).set(f"redress:compensate:{comp_id}", "1", ex=600)  # as the previous release takes it
    assert compensate.issue(comp_id) == "busy"
    assert fake.refunds.get(order_id, []) == []
    redis_conn(app).delete(f"redress:compensate:{comp_id}")
    assert compensate.issue(comp_id) == "issued"
    assert len(fake.refunds[order_id]) == 1
