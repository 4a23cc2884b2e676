"""Key rotation: put a new key first in the ring and re-encrypt every stored secret under it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Config
from plugin.storage.crypto import Vault, generate_key
from plugin.storage.models import Shop


def rotate(session: Session, cfg: Config) -> int:
    # Keys in the environment belong to the operator: they add the new key first, we re-encrypt.
    keys = cfg.encryption_keys if cfg.keys_from_env else [generate_key(), *cfg.encryption_keys]
    vault = Vault(keys)
    count = 0
    for shop in session.execute(select(Shop)).scalars():
        shop.credentials = vault.rotate(shop.credentials)
        shop.webhook_secret = vault.rotate(shop.webhook_secret)
        count += 1
    session.flush()
    if not cfg.keys_from_env:
        path = cfg.instance_dir / "encryption_keys"
        tmp = path.with_suffix(".new")
        tmp.write_text(",".join(keys))
        tmp.chmod(0o600)
        session.commit()  # secrets first, then the key file: the old keys stay in the ring either way
        tmp.replace(path)
    else:
        session.commit()
    return count
