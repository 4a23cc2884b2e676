"""Configuration read from the environment (CONTRACT.md, "Environment")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
INBOX_RETENTION_DAYS = 30
# Shopify retries a delivery for up to 48 hours: a shorter memory of its keys could process one twice.
MIN_INBOX_RETENTION_DAYS = 3


class ConfigError(ValueError):
    """A setting in the environment that Redress refuses to start with; the message says which and why."""


def _instance_dir() -> Path:
    return Path(os.environ.get("REDRESS_INSTANCE_DIR", "instance")).resolve()


def _secret_from_file(path: Path, make) -> str:
    """Read a generated secret, creating it once (0600) so every process of one install agrees."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(make())
    return path.read_text().strip()


def _retention_days(value: str | None) -> int:
    if value is None or not value.strip():
        return INBOX_RETENTION_DAYS
    try:
        days = int(value.strip())
    except ValueError:
        raise ConfigError(f"REDRESS_INBOX_RETENTION_DAYS must be a whole number of days, got {value!r}") from None
    if days < MIN_INBOX_RETENTION_DAYS:
        raise ConfigError(f"REDRESS_INBOX_RETENTION_DAYS must be at least {MIN_INBOX_RETENTION_DAYS} days, got "
                          f"{days}: Shopify may deliver a webhook again for up to 48 hours, and a delivery "
                          "forgotten sooner could be processed twice")
    return days


def _switch(name: str, value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    word = value.strip().lower()
    if word in ("1", "on", "true", "yes"):
        return True
    if word in ("0", "off", "false", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, got {value!r}")


@dataclass
class Config:
    instance_dir: Path = field(default_factory=_instance_dir)
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    encryption_keys: list[str] = field(default_factory=list)
    public_url: str = "http://127.0.0.1:8000"
    shopify_api_key: str | None = None
    shopify_api_secret: str | None = None
    shopify_api_version: str = "2026-04"
    # Where a shop's own endpoints live (OAuth, Admin API); overridable for local development and tests.
    shopify_shop_url: str = "https://{shop}"
    allow_private_stores: bool = False
    smtp_url: str | None = None
    mail_from: str = "Redress <no-reply@localhost>"
    max_webhook_bytes: int = MAX_WEBHOOK_BYTES
    # Calls to a platform: attempts within one job run and seconds per attempt.
    platform_attempts: int = 6
    platform_timeout: float = 15.0
    # Processed inbox rows older than this are deleted (the sweep does it hourly; `redress inbox purge`).
    inbox_retention_days: int = INBOX_RETENTION_DAYS
    # The front page of an instance with no shops offers the demo; a production instance turns it off.
    demo: bool = True

    @classmethod
    def from_env(cls, **overrides) -> Config:
        env = os.environ
        inst = Path(overrides.pop("instance_dir", None) or _instance_dir())
        cfg = cls(instance_dir=inst)
        cfg.database_url = env.get("DATABASE_URL") or f"sqlite:///{inst / 'redress.db'}"
        # Heroku still hands out postgres:// URLs; SQLAlchemy wants the psycopg dialect name.
        if cfg.database_url.startswith("postgres://"):
            cfg.database_url = "postgresql+psycopg://" + cfg.database_url[len("postgres://"):]
        elif cfg.database_url.startswith("postgresql://"):
            cfg.database_url = "postgresql+psycopg://" + cfg.database_url[len("postgresql://"):]
        cfg.redis_url = env.get("REDIS_URL") or None
        cfg.secret_key = env.get("REDRESS_SECRET_KEY") or _secret_from_file(
            inst / "secret_key", lambda: secrets.token_urlsafe(48)
        )
        keys = env.get("REDRESS_ENCRYPTION_KEYS")
        if keys:
            cfg.encryption_keys = [k.strip() for k in keys.split(",") if k.strip()]
        else:
            from plugin.storage.crypto import generate_key

            cfg.encryption_keys = _secret_from_file(inst / "encryption_keys", generate_key).split(",")
        cfg.public_url = (env.get("REDRESS_PUBLIC_URL") or cfg.public_url).rstrip("/")
        cfg.shopify_api_key = env.get("SHOPIFY_API_KEY") or None
        cfg.shopify_api_secret = env.get("SHOPIFY_API_SECRET") or None
        cfg.shopify_api_version = env.get("SHOPIFY_API_VERSION") or cfg.shopify_api_version
        cfg.shopify_shop_url = env.get("SHOPIFY_SHOP_URL") or cfg.shopify_shop_url
        cfg.allow_private_stores = env.get("REDRESS_ALLOW_PRIVATE_STORES", "") in ("1", "true", "yes")
        cfg.smtp_url = env.get("SMTP_URL") or None
        cfg.mail_from = env.get("REDRESS_MAIL_FROM") or cfg.mail_from
        cfg.platform_attempts = int(env.get("REDRESS_PLATFORM_ATTEMPTS") or cfg.platform_attempts)
        cfg.platform_timeout = float(env.get("REDRESS_PLATFORM_TIMEOUT") or cfg.platform_timeout)
        cfg.inbox_retention_days = _retention_days(env.get("REDRESS_INBOX_RETENTION_DAYS"))
        cfg.demo = _switch("REDRESS_DEMO", env.get("REDRESS_DEMO"), cfg.demo)
        for k, v in overrides.items():
            setattr(cfg, k, v)
        return cfg

    @property
    def outbox_dir(self) -> Path:
        """Where messages go as .eml files when no SMTP_URL is set."""
        return self.instance_dir / "outbox"

    def platform_retry(self):
        from connectors.http import Retry

        return Retry(attempts=self.platform_attempts, timeout=self.platform_timeout)

    def job_retry(self):
        """For jobs the queue retries with back-off (compensations): a second try for a blip, a short pause at
        most, so a dead store never holds a worker; the queue, not the worker, waits between runs."""
        from connectors.http import Retry

        return Retry(attempts=min(2, self.platform_attempts), max_delay=2.0, timeout=self.platform_timeout)

    @property
    def keys_from_env(self) -> bool:
        return bool(os.environ.get("REDRESS_ENCRYPTION_KEYS"))
