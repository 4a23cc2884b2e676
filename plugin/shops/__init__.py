"""Shops: connecting them, their platform access, key rotation, their customers' data and the connection check."""
