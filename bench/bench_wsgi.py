"""The Redress application plus a bare endpoint, so both are measured under one server and settings."""

from plugin.app import create_app

app = create_app()


@app.post("/bare")
def bare():
    return "", 200
