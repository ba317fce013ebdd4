"""A threaded loopback HTTP server for the sandbox (stdlib wsgiref + ThreadingMixIn).

One daemon thread per connection, quiet logging, and a clean ``stop()``. A ``drop`` fault
really closes the socket without a byte of response, which clients see as a connection
error ("Remote end closed connection without response").
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .faults import ServerDroppedConnection

__all__ = ["SandboxServer"]

log = logging.getLogger("tasks_app.sandbox.server")


class _Handler(ServerHandler):
    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], ServerDroppedConnection):
            self.request_handler.dropped = True  # type: ignore[attr-defined]
            return  # not a byte: the request handler closes the socket
        super().handle_error()

    def log_exception(self, exc_info: Any) -> None:
        log.error("sandbox request failed", exc_info=exc_info)


class _RequestHandler(WSGIRequestHandler):
    dropped = False

    def handle(self) -> None:
        # As WSGIRequestHandler.handle, with our ServerHandler (drop support, logging).
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True
        )
        handler.request_handler = self
        handler.run(self.server.get_app())
        if self.dropped:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        # A request waiting in a delay fault ends when the server stops (see SandboxApp).
        environ["sandbox.stopping"] = self.server.stopping  # type: ignore[attr-defined]
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the simulator would drown in access logs


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a request sleeping in a delay fault
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client that went away (timeouts, drops): nothing to report
        log.exception("sandbox server error for %s", client_address)


class SandboxServer:
    """``SandboxServer(app).start()`` serves ``app`` on ``.url`` until ``.stop()``."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _RequestHandler)
        server.set_app(self.app)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"sandbox-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.stopping.set()  # requests still waiting in a delay fault answer now
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
