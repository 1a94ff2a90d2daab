"""One way to serve a fake on loopback: a threading HTTP server on a free port of 127.0.0.1 whose handler
passes every request of the given methods to one function, with no access log on stderr."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handle: Callable[[BaseHTTPRequestHandler], None], methods: Iterable[str]) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``server.shutdown()`` and ``server.server_close()`` stop it."""

    def log_message(self: BaseHTTPRequestHandler, *args: object) -> None:
        pass

    def dispatch(self: BaseHTTPRequestHandler) -> None:
        handle(self)

    handler = type("Handler", (BaseHTTPRequestHandler,),
                   {"log_message": log_message, **{f"do_{m}": dispatch for m in methods}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
