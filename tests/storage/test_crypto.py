from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.storage.crypto import Vault, generate_key


@given(st.text(min_size=1, max_size=200))
def test_any_secret_round_trips_and_never_appears_in_the_token(secret):
    v = Vault([generate_key()])
    token = v.encrypt(secret)
    assert v.decrypt(token) == secret
    if len(secret) > 3:
        assert secret not in token


def test_a_generated_hex_secret_works_as_a_key_and_rotation_keeps_old_tokens_readable():
    old = Vault(["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])
    token = old.encrypt("shpat_123")
    ring = Vault([generate_key(), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])
    assert ring.decrypt(token) == "shpat_123"
    rotated = ring.rotate(token)
    assert rotated != token and ring.decrypt(rotated) == "shpat_123"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        old.decrypt(Vault([generate_key()]).encrypt("x"))
