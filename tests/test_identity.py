"""Who is acting: identity from the SSO proxy only, roles checked on the server, and the
settings that keep a deployment from running without either."""

from __future__ import annotations

import logging
import re
import secrets
import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.test import Client, RequestFactory

from tasks_app import identity
from tasks_app.models import AuditRecord
from tests.identities import IDENTITIES
from tests.serving import bare_environment, deploy_check

pytestmark = pytest.mark.django_db

TABLE = "/w/Support/tasks/"


# --- Identity -------------------------------------------------------------------------------


def test_a_request_without_an_identity_gets_a_403_that_says_what_is_missing():
    response = Client().get(TABLE)
    body = response.content.decode()
    assert response.status_code == 403
    assert "X-Forwarded-Email" in body and "SSO" in body
    assert "<form" not in body  # not a login form
    assert "Support" not in body  # nor the workspace names of the page header


def test_identity_headers_from_an_address_that_is_not_the_proxy_are_refused_and_logged(caplog):
    stranger = Client(headers=IDENTITIES["admin"], REMOTE_ADDR="10.9.9.9")
    with caplog.at_level(logging.WARNING, logger="tasks_app.identity"):
        response = stranger.get(TABLE)
    assert response.status_code == 403
    assert "did not come through" in response.content.decode()
    assert "10.9.9.9" in caplog.text and "untrusted" in caplog.text


def test_a_proxy_inside_a_trusted_network_is_believed(settings):
    settings.TASKDECK_SSO_TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.7"]
    proxy = Client(headers=IDENTITIES["viewer"], REMOTE_ADDR="10.20.30.40")
    assert proxy.get(TABLE).status_code == 200
    mapped = Client(headers=IDENTITIES["viewer"], REMOTE_ADDR="::ffff:192.0.2.7")
    assert mapped.get(TABLE).status_code == 200


def test_an_identity_header_sent_twice_is_refused_not_split():
    # WSGI servers join repeated headers with "," (a proxy that appends instead of
    # replacing lets the client's own header through first).
    headers = {**IDENTITIES["admin"], "X-Forwarded-Email": "mallory@example.com,admin@example.com"}
    response = Client(headers=headers).get(TABLE)
    assert response.status_code == 403
    assert "more than once" in response.content.decode()


def test_a_script_in_the_identity_header_is_refused_and_not_echoed():
    headers = {**IDENTITIES["admin"], "X-Forwarded-Email": "<script>alert(1)</script>"}
    response = Client(headers=headers).get(TABLE)
    body = response.content.decode()
    assert response.status_code == 403
    assert "<script>alert" not in body and "alert(1)" not in body


def test_people_are_created_the_first_time_they_are_seen():
    assert not get_user_model().objects.filter(username="editor@example.com").exists()
    assert Client(headers=IDENTITIES["editor"]).get(TABLE).status_code == 200
    assert get_user_model().objects.filter(username="editor@example.com").exists()


def test_an_inactive_account_is_refused_even_with_the_proxys_word():
    get_user_model().objects.create(username="editor@example.com", is_active=False)
    response = Client(headers=IDENTITIES["editor"]).get(TABLE)
    assert response.status_code == 403
    assert "editor@example.com cannot sign in" in response.content.decode()


def test_the_header_shows_who_is_signed_in_and_their_role(signed_in):
    body = signed_in("editor").get(TABLE).content.decode()
    assert "editor@example.com" in body and "(editor)" in body
    assert "Development user" not in body


def test_a_group_change_takes_effect_on_the_next_request():
    browser = Client()  # one session throughout, as a browser keeps its cookie
    admin = IDENTITIES["admin"]
    assert browser.get("/audit/", headers=admin).status_code == 200
    demoted = {**admin, "X-Forwarded-Groups": "taskdeck-viewers"}
    assert browser.get("/audit/", headers=demoted).status_code == 403
    assert browser.get("/audit/", headers=admin).status_code == 200


def test_someone_whose_groups_grant_no_role_is_told_so():
    headers = {"X-Forwarded-Email": "guest@example.com", "X-Forwarded-Groups": "marketing"}
    response = Client(headers=headers).get(TABLE)
    body = response.content.decode()
    assert response.status_code == 403
    assert "guest@example.com" in body and "TASKDECK_ROLE_GROUPS" in body
    assert "Support" not in body


def test_the_identity_header_name_is_configurable(settings):
    settings.TASKDECK_SSO_USER_HEADER = "X-Auth-Request-Email"
    settings.TASKDECK_SSO_GROUPS_HEADER = "X-Auth-Request-Groups"
    headers = {
        "X-Auth-Request-Email": "editor@example.com",
        "X-Auth-Request-Groups": "taskdeck-editors",
    }
    body = Client(headers=headers).get(TABLE).content.decode()
    assert "editor@example.com" in body
    assert Client(headers=IDENTITIES["editor"]).get(TABLE).status_code == 403


@pytest.mark.parametrize("path", ["/livez", "/readyz"])
def test_health_checks_answer_without_an_identity(path):
    assert Client().get(path).status_code == 200
    # The load balancer is no SSO proxy; headers it passes along change nothing.
    assert Client(headers=IDENTITIES["admin"], REMOTE_ADDR="10.9.9.9").get(path).status_code == 200


# --- Development mode and SSO turned off -----------------------------------------------------


def test_with_debug_and_no_proxy_everyone_is_the_labelled_development_user(settings):
    settings.DEBUG = True
    settings.TASKDECK_SSO_TRUSTED_PROXIES = []
    body = Client().get(TABLE).content.decode()
    assert "developer@localhost" in body and "(admin)" in body
    assert "Development user" in body


def test_the_development_user_can_write_and_the_trail_names_them(settings, sandbox):
    settings.DEBUG = True
    settings.TASKDECK_SSO_TRUSTED_PROXIES = []
    sid = sandbox.task_sid("pending")
    browser = Client()
    response = browser.post(
        "/w/Support/tasks/bulk/", {"action": "priority", "priority": "8", "task": [sid]}
    )
    assert response.status_code == 302  # the preview of a bulk action: allowed to an admin
    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    browser.post(f"/w/Support/tasks/bulk/{token}/run/", {"step": "start"})
    assert AuditRecord.objects.get(task_sid=sid).actor == "developer@localhost"


def test_without_a_trusted_proxy_identity_headers_are_refused_even_in_development(settings):
    settings.DEBUG = True
    settings.TASKDECK_SSO_TRUSTED_PROXIES = []
    response = Client(headers=IDENTITIES["viewer"]).get(TABLE)
    assert response.status_code == 403
    assert "TASKDECK_SSO_TRUSTED_PROXIES" in response.content.decode()


def test_with_sso_disabled_every_page_says_so(settings):
    settings.TASKDECK_SSO_DISABLED = True
    settings.TASKDECK_DEV_USER = "ops@example.com"
    settings.TASKDECK_DEV_ROLE = "viewer"
    body = Client().get(TABLE).content.decode()
    assert "Sign-in is turned off" in body and "ops@example.com" in body
    assert Client().post("/w/Support/tasks/bulk/", {}).status_code == 403  # a viewer


def _start(extra: dict[str, str]) -> subprocess.CompletedProcess:
    production = {
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "taskdeck.example.com",
    }
    return deploy_check(bare_environment(production, extra))


def test_without_debug_or_a_trusted_proxy_taskdeck_refuses_to_start():
    result = _start({})
    assert result.returncode != 0
    assert "TASKDECK_SSO_TRUSTED_PROXIES is not set" in result.stderr
    assert _start({"TASKDECK_SSO_DISABLED": "1"}).returncode == 0


def test_a_mistyped_trusted_proxy_stops_start_up():
    from django.core.exceptions import ImproperlyConfigured

    from tasks_app.identity import parse_networks

    with pytest.raises(ImproperlyConfigured, match=r"10\.0\.0\.300/8"):
        parse_networks(["10.0.0.300/8"], setting="TASKDECK_SSO_TRUSTED_PROXIES")


def test_check_deploy_is_clean_under_production_settings():
    result = _start({"TASKDECK_SSO_TRUSTED_PROXIES": "10.0.0.5/32"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_about_trusting_every_address_or_a_very_broad_range():
    result = _start({"TASKDECK_SSO_TRUSTED_PROXIES": "0.0.0.0/0,::/0,10.0.0.0/8,10.0.4.17/32"})
    assert result.returncode != 0  # --fail-level WARNING
    warnings = [line for line in result.stderr.splitlines() if "taskdeck.W011" in line]
    assert len(warnings) == 3, result.stderr
    assert {"0.0.0.0/0", "::/0", "10.0.0.0/8"} == {
        network for line in warnings for network in re.findall(r"trusts (\S+) \(", line)
    }


# --- Roles, checked on the server -------------------------------------------------------------


def _write_requests(sandbox) -> list[tuple[str, dict]]:
    """Every kind of write a person can ask Taskdeck for, with plausible data."""
    sid = sandbox.task_sid("pending")
    task = f"/w/Support/tasks/{sid}"
    return [
        (f"{task}/edit/priority/", {"priority": "9", "editor-priority": "x"}),
        (
            f"{task}/edit/status/",
            {"assignment_status": "canceled", "reason": "r", "editor-status": "x"},
        ),
        (f"{task}/edit/delete/", {"editor-delete": "x"}),
        (f"{task}/row/edit/", {"priority": "9", "editor-row": "x"}),
        ("/w/Support/tasks/new/", {"attributes": "{}", "priority": "1"}),
        ("/w/Support/tasks/bulk/", {"action": "priority", "priority": "8", "task": [sid]}),
        ("/w/Support/tasks/bulk/some-token/run/", {"step": "start"}),
    ]


def test_every_write_endpoint_refuses_a_viewer_and_sends_nothing(signed_in, sandbox, writes):
    viewer = signed_in("viewer")
    for url, data in _write_requests(sandbox):
        response = viewer.post(url, data)
        assert response.status_code == 403, url
        assert "Your role (viewer) does not allow" in response.content.decode(), url
    assert writes == []
    assert not AuditRecord.objects.exists()


def test_a_refusal_asked_for_by_htmx_is_only_the_message_to_swap_in(signed_in, sandbox):
    sid = sandbox.task_sid("pending")
    response = signed_in("viewer").post(
        f"/w/Support/tasks/{sid}/row/edit/",
        {"priority": "9"},
        headers={"HX-Request": "true", "HX-Target": f"row-{sid}"},
    )
    body = response.content.decode()
    assert response.status_code == 403
    assert response["Taskdeck-Fragment"] == "1"
    assert "<html" not in body and 'role="alert"' in body


def test_every_write_endpoint_refuses_a_request_without_csrf(sandbox, writes):
    browser = Client(enforce_csrf_checks=True, headers=IDENTITIES["admin"])
    browser.get(TABLE)  # has a CSRF cookie, but sends no token with the form
    htmx = {"HX-Request": "true", "HX-Target": "edit-priority"}
    for url, data in _write_requests(sandbox):
        for headers in ({}, htmx):
            response = browser.post(url, data, headers=headers)
            assert response.status_code == 403, url
            assert "CSRF verification failed" in response.content.decode(), url
    assert writes == []


def test_viewers_may_browse_read_tasks_and_export(signed_in, sandbox):
    viewer = signed_in("viewer")
    sid = sandbox.task_sid("pending")
    assert viewer.get(TABLE).status_code == 200
    assert viewer.get(f"{TABLE}{sid}/").status_code == 200
    assert viewer.get(TABLE, {"format": "csv", "size": "5"}).status_code == 200


def test_the_audit_trail_is_not_for_viewers(signed_in):
    response = signed_in("viewer").get("/audit/")
    assert response.status_code == 403
    assert "needs the editor role" in response.content.decode()


def test_the_actor_of_a_request_is_the_signed_in_person_and_never_anonymous(rf):
    from tasks_app.identity import Identity, actor_of

    request = rf.get("/")
    request.identity = Identity(username="editor@example.com", role="editor")
    assert actor_of(request) == "editor@example.com"
    request.identity = None
    with pytest.raises(PermissionError):
        actor_of(request)


def test_an_admin_only_action_refuses_an_editor_and_lets_an_admin_through(rf):
    from django.http import HttpResponse

    from tasks_app.identity import Identity, require_role

    delete = require_role("admin")(lambda request: HttpResponse("deleted"))
    request = rf.post("/")
    request.identity = Identity(username="editor@example.com", role="editor")
    refused = delete(request)
    assert refused.status_code == 403
    assert "needs the admin role" in refused.content.decode()
    request.identity = Identity(username="admin@example.com", role="admin")
    assert delete(request).content == b"deleted"


def test_sign_in_still_works_while_the_cache_is_down(monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)

    assert identity._remembered("taskdeck:account:x") is False
    request = RequestFactory().get(TABLE)
    request.user = AnonymousUser()
    assert identity.sign_in(request, "editor@example.com")
    assert request.user.get_username() == "editor@example.com"
