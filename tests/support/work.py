"""Run the real RQ worker over the real Redis until the queues are empty."""

from __future__ import annotations

from sqlalchemy import func, select

from plugin.extensions import db
from plugin.incidents.presentation import list_incidents
from plugin.processes import worker
from plugin.storage.models import Order, WebhookDelivery


def run_worker(app) -> None:
    worker(app, burst=True)


def incidents(app, **kw):
    with db(app).session() as s:
        return list_incidents(s, **kw)


def deliveries(app) -> list[WebhookDelivery]:
    with db(app).session() as s:
        return list(s.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars())


def order(app, platform_order_id: str) -> Order | None:
    with db(app).session() as s:
        return s.execute(select(Order).where(Order.platform_order_id == platform_order_id)).scalar_one_or_none()


def count(app, model) -> int:
    with db(app).session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def healthy(port: int) -> bool:
    """Whether a Redress on this local port answers /healthz with 200."""
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def start_web(env: dict, port: int):
    """`redress web` as a real server on `port`, answering /healthz; returns the process."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    web = subprocess.Popen([str(Path(sys.executable).parent / "redress"), "web", "--port", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        if healthy(port):
            break
        time.sleep(0.1)
    return web
