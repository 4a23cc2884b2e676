"""The WSGI entry point for the production web server."""

from plugin import create_app

app = create_app()
