"""Taskdeck behind a real proxy: Debian's nginx with deploy/nginx/taskdeck.conf (only its
addresses and listen line changed), asking a stand-in SSO service with auth_request, in
front of gunicorn with production settings. What a client sends as its own identity never
reaches Taskdeck: only what the SSO service answered does, once."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_until
from tests.serving import ROOT, free_port, gunicorn, production_environment

CONFIG = ROOT / "deploy" / "nginx" / "taskdeck.conf"
# Who the stand-in SSO service says each session cookie belongs to: (email, groups).
PEOPLE = {
    "viewer-session": ("sso-viewer@example.com", "staff,taskdeck-viewers"),
    "groupless-session": ("groupless@example.com", None),
}


def nginx_binary() -> str:
    """NGINX_PATH (make test sets it from .ci/nginx), or an installed nginx."""
    for candidate in (os.environ.get("NGINX_PATH"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("These tests need nginx: run .ci/nginx (or make test), which installs it.")


@dataclass
class StandInSSO:
    """oauth2-proxy's auth endpoint, as nginx asks it: 202 with X-Auth-Request-Email and
    X-Auth-Request-Groups for a known session cookie, 401 otherwise (or 500 when broken)."""

    port: int = 0
    asked: list[dict[str, str]] = field(default_factory=list)
    broken: bool = False

    def serve(self) -> ThreadingHTTPServer:
        sso = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {name: value for name, value in self.headers.items()}
                if self.path.startswith("/oauth2/auth"):
                    sso.asked.append(headers)
                if sso.broken:
                    self.send_response(500)
                    self.end_headers()
                    return
                cookie = self.headers.get("Cookie", "")
                session = cookie.removeprefix("_sso=") if cookie.startswith("_sso=") else ""
                if not self.path.startswith("/oauth2/auth") or session not in PEOPLE:
                    self.send_response(401 if self.path.startswith("/oauth2/auth") else 200)
                    self.end_headers()
                    return
                email, groups = PEOPLE[session]
                self.send_response(202)
                self.send_header("X-Auth-Request-Email", email)
                if groups is not None:
                    self.send_header("X-Auth-Request-Groups", groups)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@dataclass
class Proxied:
    url: str
    port: int
    sso: StandInSSO


def site_config(gunicorn_port: int, sso_port: int, port: int) -> str:
    """The shipped file with this machine's addresses: each change must apply once."""
    text = CONFIG.read_text()
    for shipped, here in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{gunicorn_port};"),
        ("server 127.0.0.1:4180;", f"server 127.0.0.1:{sso_port};"),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
    ):
        assert text.count(shipped) == 1, shipped
        text = text.replace(shipped, here)
    return text


def main_config(folder: Path, site: Path) -> str:
    """nginx as an unprivileged process: everything it writes under ``folder``."""
    user = ""
    if os.geteuid() == 0:  # workers would otherwise switch to nobody, locked out of folder
        user = "user root root;"
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 128; }}
http {{
    access_log {folder / "access.log"};
{temp}
    include {site};
}}
"""


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, seeded_sandbox_templates) -> Iterator[Proxied]:
    folder = tmp_path_factory.mktemp("proxy")
    sso = StandInSSO()
    sso_server = sso.serve()
    # Only nginx, on this machine, may say who is signed in (TASKDECK_SSO_TRUSTED_PROXIES).
    environment = production_environment(
        folder, seeded_sandbox_templates.path(), GUNICORN_WORKERS="1"
    )
    with gunicorn(folder, environment, collect_static=True) as app_url:
        port = free_port()
        site = folder / "taskdeck.conf"
        site.write_text(site_config(int(app_url.rsplit(":", 1)[1]), sso.port, port))
        main = folder / "nginx.conf"
        main.write_text(main_config(folder, site))
        nginx = subprocess.Popen(
            [nginx_binary(), "-p", str(folder), "-c", str(main), "-e", str(folder / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:

            def answering() -> bool:
                assert nginx.poll() is None, nginx.stderr.read().decode()[-2000:]
                try:
                    return requests.get(f"{url}/livez", timeout=5).status_code == 200
                except requests.RequestException:
                    return False

            wait_until(answering, timeout=30)
            yield Proxied(url=url, port=port, sso=sso)
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)
            sso_server.shutdown()


def page(proxied: Proxied, headers: dict[str, str], session: str | None) -> requests.Response:
    cookies = {"_sso": session} if session else {}
    return requests.get(
        f"{proxied.url}/w/Support/tasks/",
        headers=headers,
        cookies=cookies,
        allow_redirects=False,
        timeout=30,
    )


def raw_get(proxied: Proxied, path: str, headers: list[bytes]) -> bytes:
    """Exactly these header lines (requests would merge a repeated header)."""
    with socket.create_connection(("127.0.0.1", proxied.port), timeout=30) as connection:
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + b"".join(line + b"\r\n" for line in headers)
            + b"Connection: close\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_a_clients_own_identity_and_groups_never_reach_taskdeck(proxied):
    claimed = {
        "X-Forwarded-Email": "admin@example.com",
        "X-Forwarded-Groups": "taskdeck-admins",
        "X-Forwarded-User": "admin",
        "X-Auth-Request-Email": "admin@example.com",
        "X-Auth-Request-Groups": "taskdeck-admins",
    }
    answer = page(proxied, claimed, "viewer-session")
    assert answer.status_code == 200
    assert "Signed in as</span> <strong>sso-viewer@example.com</strong> (viewer)" in answer.text
    # Signed in by the SSO service but given no groups: the client's groups do not count.
    groupless = page(proxied, claimed, "groupless-session")
    assert groupless.status_code == 403
    assert "No Taskdeck role" in groupless.text
    # Nobody signed in: sent to the SSO service's sign-in, never to Taskdeck.
    stranger = page(proxied, claimed, None)
    assert stranger.status_code == 302
    assert "/oauth2/start?rd=/w/Support/tasks/" in stranger.headers["Location"]


def test_groups_arrive_once_whatever_the_client_repeats(proxied):
    answer = raw_get(
        proxied,
        "/w/Support/tasks/",
        [
            b"Cookie: _sso=viewer-session",
            b"X-Forwarded-Groups: taskdeck-admins",
            b"X-Forwarded-Groups: taskdeck-editors",
            b"X-Forwarded-Email: admin@example.com",
            b"X-Forwarded-Email: admin@example.com",
        ],
    )
    assert answer.startswith(b"HTTP/1.1 200")
    # Had nginx appended, gunicorn would have joined "taskdeck-admins,...,taskdeck-viewers".
    assert b"Signed in as</span> <strong>sso-viewer@example.com</strong> (viewer)" in answer


def test_header_names_with_underscores_are_dropped(proxied):
    asked_before = len(proxied.sso.asked)
    answer = raw_get(
        proxied,
        "/w/Support/tasks/",
        [
            b"Cookie: _sso=viewer-session",
            b"X-Forwarded_Email: admin@example.com",
            b"X_Forwarded_Groups: taskdeck-admins",
            b"X-Forwarded-Groups_: taskdeck-admins",
        ],
    )
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"Signed in as</span> <strong>sso-viewer@example.com</strong> (viewer)" in answer
    # nginx passed none of them on (not even to the SSO service).
    asked = proxied.sso.asked[asked_before:]
    assert asked and not any("_" in name for headers in asked for name in headers)


def test_probes_pass_without_identity_or_the_sso_service(proxied):
    proxied.sso.broken = True
    asked_before = len(proxied.sso.asked)
    try:
        for path in ("/livez", "/readyz"):
            answer = requests.get(
                proxied.url + path, headers={"X-Forwarded-Email": "admin@example.com"}, timeout=30
            )
            assert answer.status_code == 200, (path, answer.text)
        # The SSO service was not asked for the probes; a page cannot pass without it.
        assert len(proxied.sso.asked) == asked_before
        assert page(proxied, {}, "viewer-session").status_code == 500
    finally:
        proxied.sso.broken = False
    assert requests.get(f"{proxied.url}/metrics", timeout=30).status_code == 404
