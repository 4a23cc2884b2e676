"""The demo: a simulated Shopify store and a simulated WooCommerce store, connected to this instance, and a
realistic day of their orders replayed as signed webhooks (`redress demo`, or the front page's button)."""
