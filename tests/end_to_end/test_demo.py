"""The demo as a first-time visitor meets it: `redress run` on an empty instance, the front page's button,
the replay watched in the browser, the Shopify shop's desk with the day's incidents and its crisis; then
`redress demo --exit` from the terminal replays the same day as duplicates, and stopping `redress run`
stops the demo's stores with it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.end_to_end.test_run import REDRESS, WAIT, _env, _kill_leftovers, _until
from tests.support.browser import launch
from tests.support.pg import _free_port
from tests.support.work import healthy

playwright = pytest.importorskip("playwright.sync_api")
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _demos(instance: str) -> list[psutil.Process]:
    """This instance's `redress demo` processes (the front page's button runs it as `python -m plugin.cli`)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "plugin.cli" in cmd and "demo" in cmd:
            try:
                if p.environ().get("REDRESS_INSTANCE_DIR") == instance:
                    found.append(p)
            except psutil.Error:
                continue
    return found


def _click_through(base: str, page) -> None:
    page.goto(base + "/")
    page.get_by_role("button", name="Try it with a demo store").click()
    page.wait_for_selector("text=The demo is ready", timeout=150_000)
    summary = page.inner_text("#summary")
    assert "Crisis: Correos parcels to PO, ES, 12 incidents" in summary
    assert "30 to customers" in summary and "waiting for your approval" in summary
    page.screenshot(path=str(DOCS / "demo.png"), full_page=True)
    page.get_by_role("button", name="Open the Shopify shop's incidents").click()
    page.wait_for_url(base + "/incidents*")
    text = page.inner_text("body")
    assert "#1030" in text and "#1017" in text  # the crisis's first parcel and the lost one


def test_a_visitor_starts_the_demo_from_the_front_page_and_a_replay_changes_nothing(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # No REDRESS_PUBLIC_URL: the demo's deliveries must follow --port to this instance.
    env = {**_env(tmp_path), "REDRESS_DEMO_SECONDS": "3"}
    env.pop("REDRESS_PUBLIC_URL", None)
    run = subprocess.Popen([REDRESS, "run", "--port", str(port)], env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ours: list[psutil.Process] = []
    try:
        _until(lambda: healthy(port), "/healthz")
        with playwright.sync_playwright() as p:
            browser = launch(p)
            _click_through(base, browser.new_page(viewport={"width": 1100, "height": 900}))
            browser.close()
        ours = _demos(env["REDRESS_INSTANCE_DIR"])
        assert len(ours) == 1  # the button's demo keeps its stores serving for approvals
        # From another terminal, the address is the operator's to give.
        again = subprocess.run([REDRESS, "demo", "--exit", "--seconds", "1"], env={**env, "REDRESS_PUBLIC_URL": base},
                               capture_output=True, text=True, timeout=WAIT * 3)
        assert again.returncode == 0, again.stderr
        assert "(0 new, 44 duplicates)" in again.stdout
        assert "Compensations issued: 6 refunds and 9 coupons (made in the simulated stores by this run: 0 and 0)" \
            in again.stdout
        assert f"Sign in to the Shopify shop's desk: {base}/login/" in again.stdout
        os.killpg(run.pid, signal.SIGINT)
        run.wait(WAIT)
        _until(lambda: not [d for d in ours if d.is_running() and d.status() != psutil.STATUS_ZOMBIE],
               "the demo's stores to stop with `redress run`")
    finally:
        _kill_leftovers(run, ours)
