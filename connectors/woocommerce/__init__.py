"""The WooCommerce connector: webhook deliveries and REST order bodies (`webhooks`) and the wc/v3 REST API
(`api`). This module is what the rest of Redress calls: the `connectors.base.Connector` protocol."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from connectors.base import CompensationRequest, FetchedPage, ShopAccess, Webhook
from connectors.http import Retry
from connectors.woocommerce import api
from connectors.woocommerce.webhooks import delivery_key, normalize, shop_event, topic
from plugin.vocabulary import Platform

name = Platform.WOOCOMMERCE
signature_header = "X-WC-Webhook-Signature"
webhook_topics = api.WEBHOOK_TOPICS  # what `subscribe_webhooks` subscribes
# The Connector protocol, as this module offers it.
__all__ = ["name", "signature_header", "webhook_topics", "delivery_key", "topic", "normalize", "shop_event",
           "fetch_changed", "issue", "find_issued", "subscribe_webhooks", "check_access", "list_webhooks",
           "refresh_credentials"]


def _client(access: ShopAccess, retry: Retry | None = None) -> api.StoreClient:
    return api.StoreClient(access.domain, access.credentials["consumer_key"], access.credentials["consumer_secret"],
                           retry=retry)


def fetch_changed(access: ShopAccess, since: datetime, cursor: str | None, retry: Retry | None = None) -> FetchedPage:
    """One page of orders modified after `since`, from the REST API (the same body a webhook carries)."""
    page = api.changed_orders(_client(access, retry), since, cursor)
    # Order ids are only unique within a store: the key names the store too.
    store = hashlib.sha256(access.domain.encode()).hexdigest()[:12]
    return FetchedPage(
        deliveries=[("order.updated", json.dumps(o).encode(),
                     f"woocommerce:reconcile:{store}:{o['id']}:{o['date_modified_gmt']}") for o in page.orders],
        next_cursor=page.next_cursor,
        rereads=page.rereads,
    )


def issue(access: ShopAccess, request: CompensationRequest, retry: Retry | None = None) -> str:
    """Make the refund (tagged with the key in meta_data) or the coupon (its code derived from the key)."""
    client = _client(access, retry)
    if request.action.is_coupon:
        return api.coupon(client, request)
    # api_refund: the money goes back through the payment gateway, not only into the books.
    return api.refund(client, request, api_refund=access.credentials.get("api_refund", True))


def find_issued(access: ShopAccess, request: CompensationRequest, retry: Retry | None = None) -> str | None:
    client = _client(access, retry)
    return api.find_coupon(client, request) if request.action.is_coupon else api.find_refund(client, request)


def subscribe_webhooks(access: ShopAccess, callback_url: str, secret: str | None = None,
                       retry: Retry | None = None) -> list[str]:
    """Create the order webhooks, signed with the shop's webhook secret."""
    if not secret:
        raise ValueError("a WooCommerce webhook needs the shop's webhook secret")
    return api.subscribe(_client(access, retry), callback_url, secret)


def check_access(access: ShopAccess, retry: Retry | None = None) -> None:
    """GET orders?per_page=1: the REST keys are accepted and may read orders."""
    api.check(_client(access, retry))


def list_webhooks(access: ShopAccess, retry: Retry | None = None) -> list[Webhook]:
    return [Webhook(topic=kind, url=url, active=status == "active")
            for kind, url, status in api.webhooks(_client(access, retry))]


def refresh_credentials(access: ShopAccess, api_key: str, api_secret: str,
                        shop_url: str = "https://{shop}") -> dict[str, str]:
    """REST keys do not expire: there is nothing to refresh."""
    return {}
