"""Redress: order incidents for Shopify and WooCommerce shops. See README, "How Redress is built"."""
