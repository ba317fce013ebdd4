"""A local webhook receiver on 127.0.0.1 for alert tests: records every POST it gets, and
answers with the status the test sets (to make deliveries fail and retry)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    status: int = 200
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.received.append(Received(dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}/hook"

    def states(self) -> list[str]:
        """The ``state`` of every message received, in order, one per distinct delivery
        (a receiver drops a repeat of the same Taskdeck-Delivery id, as documented)."""
        seen, states = set(), []
        for item in self.received:
            delivery = item.headers.get("Taskdeck-Delivery")
            if delivery in seen:
                continue
            seen.add(delivery)
            states.append(item.json["state"])
        return states

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
