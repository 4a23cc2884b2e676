"""Secrets at rest: Fernet tokens under a key ring (newest key first) so keys can rotate."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def generate_key() -> str:
    return Fernet.generate_key().decode()


def fernet_key(key: str) -> bytes:
    """A Fernet key as given, or one derived from any other secret string.

    Platform "generate a secret" buttons (app.json's `generator: secret`) make hex strings, not Fernet
    keys; deriving lets those work while real Fernet keys are used unchanged.
    """
    raw = key.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32 and len(raw) == 44:
            return raw
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


class Vault:
    def __init__(self, keys: list[str]):
        if not keys:
            raise ValueError("no encryption key configured")
        self._ring = MultiFernet([Fernet(fernet_key(k)) for k in keys])

    def encrypt(self, plain: str | None) -> str | None:
        if plain is None:
            return None
        return self._ring.encrypt(plain.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._ring.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a stored secret cannot be decrypted with the configured keys") from exc

    def rotate(self, token: str | None) -> str | None:
        return None if token is None else self._ring.rotate(token.encode()).decode()


def new_api_token() -> str:
    return "rdr_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
