"""The Shopify connector: webhook deliveries (`webhooks`), the Admin GraphQL API (`admin`), OAuth and
token refresh (`oauth`), and Shopify's own words (`vocabulary`). This module is what the rest of Redress
calls: the `connectors.base.Connector` protocol."""

from __future__ import annotations

import json
import re
from datetime import datetime

from connectors.base import CompensationRequest, FetchedPage, ShopAccess, Webhook
from connectors.http import Retry
from connectors.shopify import admin, oauth
from connectors.shopify.vocabulary import WEBHOOK_TOPICS
from connectors.shopify.webhooks import RECONCILED, delivery_key, normalize, shop_event, topic
from plugin.vocabulary import Platform

name = Platform.SHOPIFY
signature_header = "X-Shopify-Hmac-Sha256"
webhook_topics = WEBHOOK_TOPICS  # what `subscribe_webhooks` subscribes
# The Connector protocol, as this module offers it.
__all__ = ["name", "signature_header", "webhook_topics", "delivery_key", "topic", "normalize", "shop_event",
           "fetch_changed", "issue", "find_issued", "subscribe_webhooks", "check_access", "list_webhooks",
           "refresh_credentials", "valid_shop_domain"]
SHOP_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


def valid_shop_domain(domain: str) -> bool:
    return bool(SHOP_HOST.match(domain or ""))


def _client(access: ShopAccess, retry: Retry | None = None) -> admin.AdminClient:
    endpoint = access.admin_url or f"https://{access.domain}/admin/api/{access.api_version}/graphql.json"
    return admin.AdminClient(endpoint, access.credentials["access_token"], retry=retry)


def fetch_changed(access: ShopAccess, since: datetime, cursor: str | None, retry: Retry | None = None) -> FetchedPage:
    """One page of orders updated after `since`, from the Admin GraphQL API."""
    page = admin.changed_orders(_client(access, retry), since, cursor)
    return FetchedPage(
        deliveries=[(RECONCILED, json.dumps(n).encode(), f"shopify:reconcile:{n['legacyResourceId']}:{n['updatedAt']}")
                    for n in page.orders],
        next_cursor=page.next_cursor,
    )


def issue(access: ShopAccess, request: CompensationRequest, retry: Retry | None = None) -> str:
    """Make the refund (carrying the @idempotent key) or the discount code; returns its GID."""
    client = _client(access, retry)
    return admin.coupon(client, request) if request.action.is_coupon else admin.refund(client, request)


def find_issued(access: ShopAccess, request: CompensationRequest, retry: Retry | None = None) -> str | None:
    """What an earlier attempt with this key already made, if anything."""
    client = _client(access, retry)
    return admin.find_coupon(client, request) if request.action.is_coupon else admin.find_refund(client, request)


def subscribe_webhooks(access: ShopAccess, callback_url: str, secret: str | None = None,
                       retry: Retry | None = None) -> list[str]:
    """Subscribe the order topics with webhookSubscriptionCreate (deliveries are signed with the app secret)."""
    return admin.subscribe(_client(access, retry), callback_url)


def check_access(access: ShopAccess, retry: Retry | None = None) -> None:
    """A tiny GraphQL read (`shop { name }`): the token is accepted."""
    admin.shop_name(_client(access, retry))


def list_webhooks(access: ShopAccess, retry: Retry | None = None) -> list[Webhook]:
    return [Webhook(topic=kind, url=uri) for kind, uri in admin.webhooks(_client(access, retry))]


def refresh_credentials(access: ShopAccess, api_key: str, api_secret: str,
                        shop_url: str = "https://{shop}") -> dict[str, str]:
    """New expiring offline tokens for the stored refresh token (which Shopify replaces every time)."""
    tokens = oauth.refresh(shop_url.format(shop=access.domain), access.credentials["refresh_token"],
                           api_key, api_secret)
    return tokens.credentials()
