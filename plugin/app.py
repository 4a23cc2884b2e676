"""The Flask application factory: settings, extensions, blueprints."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, g
from flask_babel import Babel

from plugin import extensions
from plugin.config import Config
from plugin.vocabulary import Locale

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _locale() -> str:
    """The language of this request's page: the status page decides it for its customer (plugin.web.status,
    from `?lang=`, the incident and the order); every other page is in English."""
    return g.get("locale") or Locale.EN.value


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
        BABEL_DEFAULT_LOCALE=Locale.EN.value,
        BABEL_TRANSLATION_DIRECTORIES=str(TEMPLATES / "translations"),
    )
    extensions.init_app(app, config)
    Babel(app, locale_selector=_locale)

    from plugin.web import analytics, api, demo, desk, embedded, health, install, messages, settings, status, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(install.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(embedded.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(messages.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(analytics.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(demo.bp)

    @app.teardown_appcontext
    def _close_session(_exc):
        s = g.pop("db_session", None)
        if s is not None:
            s.close()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app
