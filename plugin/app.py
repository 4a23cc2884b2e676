"""The Flask application factory: settings, extensions, blueprints."""

from __future__ import annotations

import logging

from flask import Flask, g

from plugin import extensions
from plugin.config import Config


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
    extensions.init_app(app, config)

    from plugin.web import api, embedded, health, install, messages, settings, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(install.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(embedded.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(messages.bp)

    @app.teardown_appcontext
    def _close_session(_exc):
        s = g.pop("db_session", None)
        if s is not None:
            s.close()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app
