"""RQ job functions: thin, each safe to run twice. They share one application per worker process."""

from __future__ import annotations

from flask import Flask

_app: Flask | None = None


def get_app() -> Flask:
    global _app
    if _app is None:
        from plugin.app import create_app

        _app = create_app()
    return _app


def use_app(app: Flask) -> None:
    """Let a worker process (or a test) hand its application to the jobs."""
    global _app
    _app = app
