"""The application's extensions and their accessors (one database, key ring, shop-secret cache and Redis per app).

Everything outside the web layer reaches them through these functions, given the app, so jobs and commands
share them with the web without importing it.
"""

from __future__ import annotations

from flask import Flask
from itsdangerous import URLSafeTimedSerializer

from plugin.config import Config
from plugin.storage.crypto import Vault
from plugin.storage.db import Database
from plugin.storage.queue import connect
from plugin.storage.shop_secrets import ShopSecrets


def init_app(app: Flask, config: Config) -> None:
    app.extensions["redress.db"] = Database(config.database_url)
    app.extensions["redress.vault"] = Vault(config.encryption_keys)
    app.extensions["redress.shop_secrets"] = ShopSecrets(app.extensions["redress.db"].engine,
                                                         app.extensions["redress.vault"])
    app.extensions["redress.redis"] = None
    app.extensions["redress.redis_factory"] = lambda: connect(config.redis_url, config.instance_dir)


def db(app: Flask) -> Database:
    return app.extensions["redress.db"]


def vault(app: Flask) -> Vault:
    return app.extensions["redress.vault"]


def redis_conn(app: Flask):
    """Connect lazily: a web process that never needs Redis never starts one."""
    conn = app.extensions["redress.redis"]
    if conn is None:
        conn = app.extensions["redress.redis"] = app.extensions["redress.redis_factory"]()
    return conn


def config(app: Flask) -> Config:
    return app.config["REDRESS"]


def signer(app: Flask, purpose: str) -> URLSafeTimedSerializer:
    """Signs short-lived tickets (sign-in links, OAuth state, store-connect links) with the app's secret.
    The purpose salts the signature, so a ticket made for one purpose is refused for any other."""
    return URLSafeTimedSerializer(config(app).secret_key, salt=purpose)
