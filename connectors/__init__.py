"""Platform connectors. The registry is a plain dict: platform name -> connector module."""

from __future__ import annotations

from connectors import shopify, woocommerce
from connectors.base import Connector, PayloadError
from plugin.vocabulary import Platform

REGISTRY: dict[Platform, Connector] = {
    Platform.SHOPIFY: shopify,
    Platform.WOOCOMMERCE: woocommerce,
}


def get(platform: str) -> Connector:
    try:
        return REGISTRY[Platform(platform)]
    except (KeyError, ValueError):
        raise KeyError(f"no connector for platform {platform!r}") from None


__all__ = ["REGISTRY", "Connector", "PayloadError", "get"]
