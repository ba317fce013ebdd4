"""A requests transport adapter that calls a WSGI app directly: real client code, no socket.

Mount it on a base URL (``session.mount("http://taskrouter.sandbox.invalid", adapter)``) and
the client's whole requests code path runs (auth, headers, bodies, hooks, response parsing)
with the sandbox answering in the same process. Faults look the way they would over the
network: ``drop`` raises ``requests.ConnectionError``, and a ``delay`` longer than the read
timeout given to ``send`` sleeps for that read timeout and raises ``requests.ReadTimeout``
(the request itself still completes later, as it would on a real server).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from .faults import ClientReadTimeout, ServerDroppedConnection

__all__ = ["WSGIAdapter", "in_process_adapter"]


class WSGIAdapter(BaseAdapter):
    """Sends each PreparedRequest to a WSGI callable and builds a ``requests.Response``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        super().__init__()
        self.app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        environ = _environ(request, read_timeout)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None  # the legacy write() callable; the sandbox never uses it

        try:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except ServerDroppedConnection:
            raise requests.ConnectionError(
                RemoteDisconnected("Remote end closed connection without response"),
                request=request,
            ) from None
        except ClientReadTimeout as exc:
            raise requests.ReadTimeout(
                f"HTTPConnectionPool(host={urlsplit(request.url).hostname!r}): {exc}",
                request=request,
            ) from None
        return self._build_response(request, captured["status"], captured["headers"], body)

    def _build_response(
        self,
        request: requests.PreparedRequest,
        status: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> requests.Response:
        code, _, reason = status.partition(" ")
        response = requests.Response()
        response.status_code = int(code)
        response.reason = reason
        response.headers = CaseInsensitiveDict(headers)
        response._content = body
        response._content_consumed = True
        response.raw = io.BytesIO(body)
        response.url = request.url
        response.request = request
        response.encoding = get_encoding_from_headers(response.headers)
        response.connection = self
        return response

    def close(self) -> None:
        pass


def in_process_adapter(app: Callable[..., Iterable[bytes]]) -> BaseAdapter:
    """A requests adapter that calls ``app`` (a WSGI callable) with no socket."""
    return WSGIAdapter(app)


def _environ(request: requests.PreparedRequest, read_timeout: float | None) -> dict[str, Any]:
    url = urlsplit(request.url)
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes | bytearray):
        body = body.read() if hasattr(body, "read") else b"".join(body)
    scheme = url.scheme or "http"
    port = url.port or (443 if scheme == "https" else 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": (request.method or "GET").upper(),
        "SCRIPT_NAME": "",
        # PEP 3333: the URL-decoded path's bytes as latin-1 characters.
        "PATH_INFO": unquote_to_bytes(url.path or "/").decode("latin-1"),
        "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "localhost",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(bytes(body)),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "sandbox.read_timeout": read_timeout,
    }
    headers = dict(request.headers)
    if "Host" not in request.headers:  # CaseInsensitiveDict: any spelling counts
        headers["Host"] = url.netloc
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key == "CONTENT_LENGTH":
            continue
        else:
            environ[f"HTTP_{key}"] = value
    environ["CONTENT_LENGTH"] = str(len(body))
    return environ
