"""The crisis JSON of CONTRACT.md, shared by the CLI and the HTTP API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.orders.facts import iso
from plugin.storage.models import Crisis


def crisis_json(c: Crisis) -> dict[str, Any]:
    return {
        "id": c.id, "shop_id": c.shop_id, "status": c.status, "cause": dict(c.cause),
        "opened_at": iso(c.opened_at), "resolved_at": iso(c.resolved_at) if c.resolved_at else None,
        "incident_ids": [i.id for i in c.incidents], "observed": c.observed, "expected": c.expected,
        "method": c.method, "summary": c.summary, "updates": list(c.updates),
    }


def list_crises(session: Session, shop_id: int | None = None) -> list[dict[str, Any]]:
    """Newest first."""
    q = select(Crisis).options(selectinload(Crisis.incidents)).order_by(Crisis.id.desc())
    if shop_id is not None:
        q = q.where(Crisis.shop_id == shop_id)
    return [crisis_json(c) for c in session.execute(q).scalars()]
