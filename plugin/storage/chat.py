"""Posting a line to the team's chat: a Slack-compatible incoming webhook takes `{"text": …}` as JSON."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import requests

from plugin.storage.net import resolves_privately

TIMEOUT = 10


class ChatError(RuntimeError):
    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


def post(url: str, text: str, allow_private: bool = False) -> None:
    """Raises ChatError; `permanent` when trying again cannot help (a refused or deleted webhook)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise ChatError("the team webhook URL must be an https:// address", permanent=True)
    _public(parts.hostname or "", allow_private)
    try:
        answer = requests.post(url, json={"text": text}, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise ChatError(f"the team webhook did not answer: {type(exc).__name__}", permanent=False) from exc
    if answer.status_code >= 300:
        # Slack answers 404/410 for a removed webhook and 403 for a revoked one: those will not come back.
        retry = answer.status_code == 429 or answer.status_code >= 500
        raise ChatError(f"the team webhook answered {answer.status_code}: {answer.text[:200]}", permanent=not retry)


def _public(host: str, allow_private: bool) -> None:
    try:
        private = resolves_privately(host)
    except (socket.gaierror, UnicodeError) as exc:
        raise ChatError(f"the team webhook host {host!r} does not resolve", permanent=False) from exc
    if private and not allow_private:
        raise ChatError(f"the team webhook host {host!r} is a private address; Redress posts only to public "
                        "hosts (REDRESS_ALLOW_PRIVATE_STORES=1 allows private ones for local development)",
                        permanent=True)
