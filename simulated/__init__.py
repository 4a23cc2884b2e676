"""Simulated Shopify and WooCommerce stores: local HTTP servers that answer like the real platforms.

The tests use them as the platforms Redress talks to, and `redress demo` connects a shop to each. They know
nothing of Redress: they are built from the platforms' published behaviour only.
"""
