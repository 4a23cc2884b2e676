"""A small threaded HTTP server for the simulated stores, mounted the way pytest-httpserver mounts handlers
(`expect_request(path or regex, method).respond_with_handler(handler)`), so the tests and `redress demo`
serve one and the same store classes."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug import Request, Response
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

Handler = Callable[[Request], Response]


@dataclass
class _Route:
    path: str | re.Pattern[str]
    method: str
    handler: Handler | None = None

    def respond_with_handler(self, handler: Handler) -> None:
        self.handler = handler

    def matches(self, request: Request) -> bool:
        if request.method != self.method:
            return False
        if isinstance(self.path, re.Pattern):
            return self.path.match(request.path) is not None
        return request.path == self.path


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # a store does not narrate every request it answers
        pass


class LocalServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.routes: list[_Route] = []
        self._server: BaseWSGIServer = make_server(host, port, self._wsgi, threaded=True,
                                                      request_handler=_Quiet)
        self.host, self.port = host, self._server.server_port
        self._thread: threading.Thread | None = None

    def expect_request(self, path: str | re.Pattern[str], method: str = "GET") -> _Route:
        route = _Route(path, method.upper())
        self.routes.append(route)
        return route

    def url_for(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        route = next((r for r in self.routes if r.handler and r.matches(request)), None)
        response = route.handler(request) if route and route.handler else Response("not found", 404)
        return response(environ, start_response)

    def start(self) -> LocalServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="simulated-stores", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
