"""The WSGI entry point for the production web server."""

from plugin.app import create_app

app = create_app()
