"""Connecting shops: validation, encrypted credentials, the API token shown once."""

from __future__ import annotations

import json
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.shopify import valid_shop_domain
from plugin.compensation.policy import default_policy
from plugin.config import Config
from plugin.messages.communication import EMAIL
from plugin.orders.facts import iso
from plugin.storage.crypto import Vault, hash_token, new_api_token
from plugin.storage.models import Shop
from plugin.storage.net import resolves_privately
from plugin.vocabulary import Platform


class ShopError(ValueError):
    """A shop that cannot be connected as asked; the message is for the merchant."""


def _private(host: str) -> bool:
    try:
        return resolves_privately(host)
    except socket.gaierror as exc:
        raise ShopError(f"cannot resolve the store host {host!r}: {exc.strerror}") from exc


def check_store_url(url: str, allow_private: bool) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ShopError(f"store URL must be http(s)://host[/path], got {url!r}")
    if parts.query or parts.fragment or parts.username:
        raise ShopError("store URL must not carry credentials, a query or a fragment")
    if not allow_private and _private(parts.hostname):
        raise ShopError(f"store host {parts.hostname!r} resolves to a private, loopback or link-local "
                        "address (set REDRESS_ALLOW_PRIVATE_STORES=1 for local development)")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _find(session: Session, platform: Platform, domain: str) -> Shop | None:
    return session.execute(select(Shop).where(Shop.platform == platform, Shop.domain == domain)).scalar_one_or_none()


def _exists(session: Session, platform: Platform, domain: str) -> None:
    if _find(session, platform, domain) is not None:
        raise ShopError(f"a {platform} shop {domain} is already connected")


def check_email(email: str | None) -> str | None:
    if not email:
        return None
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise ShopError(f"{email!r} is not an email address")
    return email


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ShopError(f"unknown time zone {timezone!r} (use a name like Europe/Madrid)") from None
    return timezone


def add_shopify(session: Session, vault: Vault, cfg: Config, *, domain: str, token: str,
                admin_url: str | None = None, webhook_secret: str | None = None,
                timezone: str = "UTC", owner_email: str | None = None) -> tuple[Shop, str, None]:
    domain = domain.strip().lower()
    if not valid_shop_domain(domain):
        raise ShopError(f"{domain!r} is not a shop host like my-store.myshopify.com")
    if not token.strip():
        raise ShopError("the access token is empty")
    if admin_url:
        parts = urlsplit(admin_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ShopError(f"--admin-url must be an http(s) URL, got {admin_url!r}")
        if parts.scheme == "http" and not cfg.allow_private_stores:
            raise ShopError("--admin-url must be https (http only with REDRESS_ALLOW_PRIVATE_STORES=1)")
    _exists(session, Platform.SHOPIFY, domain)
    shop, api_token = _create(session, vault, platform=Platform.SHOPIFY, domain=domain,
                              admin_url=admin_url or _local_admin_url(cfg, domain),
                              credentials={"access_token": token.strip()}, webhook_secret=webhook_secret,
                              timezone=check_timezone(timezone))
    shop.owner_email = check_email(owner_email)
    return shop, api_token, None  # Shopify signs with the app secret unless one is given: nothing to show


def add_woocommerce(session: Session, vault: Vault, cfg: Config, *, url: str, key: str, secret: str,
                    webhook_secret: str | None = None, timezone: str = "UTC",
                    api_refund: bool = True, owner_email: str | None = None) -> tuple[Shop, str, str | None]:
    base = check_store_url(url, cfg.allow_private_stores)
    check_timezone(timezone)
    if not key.startswith("ck_") or not secret.startswith("cs_"):
        raise ShopError("WooCommerce REST keys look like ck_… (key) and cs_… (secret)")
    _exists(session, Platform.WOOCOMMERCE, base)
    generated = None
    if not webhook_secret:
        # The merchant pastes this into WooCommerce's webhook form; it is shown once, like the API token.
        webhook_secret = generated = secrets.token_urlsafe(32)
    shop, token = _create(session, vault, platform=Platform.WOOCOMMERCE, domain=base, admin_url=None,
                          credentials={"consumer_key": key, "consumer_secret": secret, "api_refund": api_refund},
                          webhook_secret=webhook_secret, timezone=timezone)
    shop.owner_email = check_email(owner_email)
    return shop, token, generated


def _create(session: Session, vault: Vault, *, platform: str, domain: str, admin_url: str | None,
            credentials: dict[str, Any], webhook_secret: str | None, timezone: str) -> tuple[Shop, str]:
    token = new_api_token()
    shop = Shop(platform=platform, domain=domain, name=domain, admin_url=admin_url,
                credentials=vault.encrypt(json.dumps(credentials)),
                webhook_secret=vault.encrypt(webhook_secret) if webhook_secret else None,
                api_token_hash=hash_token(token), policy=default_policy(), active=True, timezone=timezone)
    session.add(shop)
    session.flush()
    return shop, token


def shop_json(shop: Shop, cfg: Config) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": shop.id,
        "platform": shop.platform,
        "domain": shop.domain,
        "active": shop.active,
        "timezone": shop.timezone,
        "created_at": iso(shop.created_at),
        "has_webhook_secret": shop.webhook_secret is not None,
        # Reconciliation: when the last pass finished, and why the latest one stopped short (null once one finishes).
        "last_synced_at": iso(shop.last_synced_at) if shop.last_synced_at else None,
        "sync_error": shop.sync_error,
        "sync_error_at": iso(shop.sync_error_at) if shop.sync_error_at else None,
    }
    if shop.platform == Platform.SHOPIFY:
        out["admin_url"] = shop.admin_url or f"https://{shop.domain}/admin/api/{cfg.shopify_api_version}/graphql.json"
        out["webhook_url"] = f"{cfg.public_url}/webhooks/shopify"
    else:
        out["webhook_url"] = f"{cfg.public_url}/webhooks/woocommerce/{shop.id}"
    return out


def _local_admin_url(cfg: Config, domain: str) -> str | None:
    """The Admin endpoint under SHOPIFY_SHOP_URL (local development); None for the real https://{shop}."""
    if cfg.shopify_shop_url == "https://{shop}":
        return None
    return cfg.shopify_shop_url.format(shop=domain) + f"/admin/api/{cfg.shopify_api_version}/graphql.json"


def install_shopify(session: Session, vault: Vault, cfg: Config, *, domain: str, credentials: dict[str, Any]) -> Shop:
    """Create the shop on first install; on a reinstall, take the new tokens and switch it back on."""
    domain = domain.strip().lower()
    if not valid_shop_domain(domain):
        raise ShopError(f"{domain!r} is not a shop host like my-store.myshopify.com")
    shop = _find(session, Platform.SHOPIFY, domain)
    admin_url = _local_admin_url(cfg, domain)
    if shop is None:
        shop, _ = _create(session, vault, platform=Platform.SHOPIFY, domain=domain, admin_url=admin_url,
                          credentials=credentials, webhook_secret=None, timezone="UTC")
        return shop
    shop.credentials = vault.encrypt(json.dumps(credentials))
    shop.active = True
    shop.admin_url = admin_url or shop.admin_url
    return shop


def connect_woocommerce_keys(session: Session, vault: Vault, cfg: Config, *, url: str, key: str,
                             secret: str, owner_email: str | None = None) -> Shop:
    """The /wc-auth key callback: create the shop, or take the new keys on a repeated callback."""
    base = check_store_url(url, cfg.allow_private_stores)
    shop = _find(session, Platform.WOOCOMMERCE, base)
    credentials = {"consumer_key": key, "consumer_secret": secret, "api_refund": True}
    if shop is None:
        shop, _ = _create(session, vault, platform=Platform.WOOCOMMERCE, domain=base, admin_url=None,
                          credentials=credentials, webhook_secret=secrets.token_urlsafe(32), timezone="UTC")
        shop.owner_email = check_email(owner_email)
        return shop
    old = json.loads(vault.decrypt(shop.credentials) or "{}")
    shop.credentials = vault.encrypt(json.dumps({**old, **credentials, "api_refund": old.get("api_refund", True)}))
    shop.active = True
    shop.owner_email = check_email(owner_email) or shop.owner_email
    # The webhook secret stays: webhooks already created with it keep verifying.
    return shop
