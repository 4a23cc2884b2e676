"""The customer's link to their status page: an incident id signed with the app's secret, so it cannot be
guessed or altered. It does not expire: it sits in e-mails the customer may open months later."""

from __future__ import annotations

from flask import Flask
from itsdangerous import BadSignature

from plugin.extensions import config, signer

PURPOSE = "status-page"


def status_token(app: Flask, incident_id: int) -> str:
    return signer(app, PURPOSE).dumps(incident_id)


def status_url(app: Flask, incident_id: int) -> str:
    return f"{config(app).public_url}/s/{status_token(app, incident_id)}"


def incident_id_for(app: Flask, token: str) -> int | None:
    """The incident a token names, or None for anything that is not a token we made."""
    try:
        value = signer(app, PURPOSE).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
