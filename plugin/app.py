"""Redress: the Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, g

from plugin.config import Config
from plugin.intake.inbox import ShopSecrets
from plugin.storage.crypto import Vault
from plugin.storage.db import Database
from plugin.storage.queue import connect


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__, template_folder="../templates", instance_path=str(config.instance_dir))
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_webhook_bytes,
        REDRESS=config,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=7 * 86400,
    )
    app.extensions["redress.db"] = Database(config.database_url)
    app.extensions["redress.vault"] = Vault(config.encryption_keys)
    app.extensions["redress.shop_secrets"] = ShopSecrets(app.extensions["redress.db"].engine,
                                                         app.extensions["redress.vault"])
    app.extensions["redress.redis"] = None
    app.extensions["redress.redis_factory"] = lambda: connect(config.redis_url, config.instance_dir)

    from plugin.web import api, embedded, health, install, settings, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(install.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(embedded.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)

    @app.teardown_appcontext
    def _close_session(_exc):
        s = g.pop("db_session", None)
        if s is not None:
            s.close()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app


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
