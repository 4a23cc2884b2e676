"""The web surfaces: one blueprint per module (webhooks, install, embedded admin, settings, sign-in, API, health)."""
