"""Taskdeck under gunicorn with the repository's gunicorn.conf.py, as `make serve` runs it,
for the tests that need real processes (127.0.0.1 only); and a TCP proxy to put between
those processes and PostgreSQL or Redis, to cut like a network failure."""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(tmp_path: Path, env: dict[str, str], *, collect_static: bool = False) -> Iterator[str]:
    """Migrate (and collect static files when pages are served with production storage),
    start gunicorn on a free loopback port, wait for /livez, yield its URL, stop it."""
    with fleet(tmp_path, env, instances=1, collect_static=collect_static) as urls:
        yield urls[0]


@contextmanager
def fleet(
    tmp_path: Path, env: dict[str, str], *, instances: int, collect_static: bool = False
) -> Iterator[list[str]]:
    """``instances`` gunicorn instances sharing one database (migrated once), each on a
    free loopback port with its own metrics directory; their URLs once all answer."""
    commands = [["migrate", "--noinput"]] + (
        [["collectstatic", "--noinput"]] if collect_static else []
    )
    for command in commands:
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    servers: list[subprocess.Popen] = []
    urls: list[str] = []
    try:
        for number in range(instances):
            port = free_port()
            metrics = tmp_path / f"metrics-{number}"
            metrics.mkdir(exist_ok=True)
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"],
                    cwd=ROOT,
                    env={
                        **env,
                        "GUNICORN_BIND": f"127.0.0.1:{port}",
                        "GUNICORN_ACCESS_LOG": "",
                        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp_path / f"gunicorn-{number}.log").open("w"),
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60 + 10 * instances
        for server, url in zip(servers, urls, strict=True):
            while True:
                assert server.poll() is None, "gunicorn exited at start-up"
                try:
                    requests.get(f"{url}/livez", timeout=5)
                    break
                except requests.RequestException:
                    assert time.monotonic() < deadline, "gunicorn never answered"
                    time.sleep(0.1)
        yield urls
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker still draining a slow client
                server.kill()
                server.wait(timeout=10)


class TcpProxy:
    """A TCP forwarder on a free loopback port to ``127.0.0.1:target``, for a test to cut
    and restore like a network failure: `cut` resets every connection through it and
    closes each new one at once (a client sees the server go away), `restore` forwards
    again. Processes under test are pointed at ``port`` instead of the real server, which
    is never stopped. ``peak`` is the most connections it carried at once."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[frozenset[socket.socket]] = set()  # client and upstream, in pairs
        self._cut = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        self._close_all()

    def url(self, url: str) -> str:
        """``url`` (a database or Redis URL on 127.0.0.1:target) through this proxy."""
        return url.replace(f"127.0.0.1:{self.target}", f"127.0.0.1:{self.port}", 1)

    def cut(self) -> None:
        self._cut.set()
        self._close_all()

    def restore(self) -> None:
        self._cut.clear()

    def _close_all(self) -> None:
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in (sock for pair in doomed for sock in pair):
            # A reset, as when the server goes away (linger 0). shutdown() first: close()
            # alone does not wake the thread blocked reading it, so nothing would be sent.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.add(frozenset((client, upstream)))
                self.peak = max(self.peak, len(self._open))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(frozenset((source, sink)))
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
