"""Crises: one cause hitting many customers at once, noticed against the shop's own baseline."""
