"""Who is acting, and what their role lets them do.

Taskdeck sits behind the company's SSO proxy (oauth2-proxy, Pomerium, an ingress with
forward auth), which authenticates people and passes who they are in request headers.
Django's `RemoteUserMiddleware` and `RemoteUserBackend` do the sign-in; this module adds
what they leave to the deployment, each a known trap:

- The header names are configurable (`TASKDECK_SSO_USER_HEADER`, `..._GROUPS_HEADER`);
  WSGI hands ``X-Forwarded-Email`` to Django as ``HTTP_X_FORWARDED_EMAIL``.
- Anyone who reaches Taskdeck's port directly could send those headers, so they are
  only believed from a peer address inside `TASKDECK_SSO_TRUSTED_PROXIES`; from any other
  address they are refused (403) and logged.
- ``X-Forwarded_Email`` reaches Django under the same key as ``X-Forwarded-Email``;
  gunicorn (since 22) drops header names with underscores, and the proxy must too.
- A header sent twice reaches Django joined with ``,`` by gunicorn (``attacker@x,real@y``
  when a proxy appends instead of replacing). An identity holds no comma, so such an
  identity is refused, never split. Groups cannot be told apart that way: ``ops`` sent
  twice with ``ops-admins`` arrives as ``ops,ops-admins``, exactly like one header listing
  two groups. The proxy must therefore overwrite both headers with its own answer, never
  append: deploy/nginx/taskdeck.conf does, and tests/test_proxy.py runs Taskdeck behind it.
- WSGI hands headers over as latin-1 text; identities and groups are decoded as the UTF-8
  the proxy sent, NFC-normalised, and an identity holding a space, a control or an
  invisible character (a trailing no-break space would make a second account) is refused.
- Groups are re-read on every request, not only at sign-in (Django's middleware only
  authenticates when the user changes), so a role change applies to the next request.

The role (viewer < editor < admin) comes from `TASKDECK_ROLE_GROUPS`. With DEBUG on and no
trusted proxy, or with `TASKDECK_SSO_DISABLED=1` set on purpose, everyone is the
development user (`TASKDECK_DEV_USER`, `TASKDECK_DEV_ROLE`) and every page says so.

Every view is checked on the server: the middleware refuses a request without an
identity and a role, and `require_role` guards what editors and admins may do.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import RemoteUserBackend
from django.contrib.auth.middleware import RemoteUserMiddleware
from django.core.cache import cache
from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLES = ("viewer", "editor", "admin")  # each can do everything the ones before it can
# Paths that answer without an identity: the load balancer's probes and the metrics
# scraper do not pass through SSO.
EXEMPT_PATHS = frozenset({"/livez", "/readyz", "/metrics"})
# Longest identity Taskdeck keeps (Django's username column holds 150 characters).
MAX_IDENTITY_LENGTH = 150
_IDENTITY = re.compile(r"[^\s,;\"'<>\\]+")  # one token: no spaces, separators or markup


# --- Configuration ------------------------------------------------------------------------


def meta_key(header: str) -> str:
    """The request.META key WSGI gives a header: ``X-Forwarded-Email`` ->
    ``HTTP_X_FORWARDED_EMAIL``."""
    return "HTTP_" + header.strip().upper().replace("-", "_")


def parse_networks(values: Iterable[str], *, setting: str) -> tuple:
    """CIDRs (or single addresses) of trusted proxies; a typo stops start-up."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting} holds {value!r}, which is not an address or a CIDR such as 10.0.0.0/8."
            ) from None
    return tuple(networks)


# A trusted range wider than this is an error waiting to happen: the SSO proxy is a few
# machines, and every address inside the range may say who is signed in.
BROADEST_TRUSTED = {4: 16, 6: 48}  # IP version -> shortest prefix length accepted quietly


@register(Tags.security, deploy=True)
def trusted_proxies_are_narrow(app_configs, **kwargs) -> list[CheckWarning]:
    """`check --deploy` warns when TASKDECK_SSO_TRUSTED_PROXIES trusts a very broad range
    (0.0.0.0/0, ::/0, anything wider than a /16 or an IPv6 /48)."""
    try:
        networks = parse_networks(
            settings.TASKDECK_SSO_TRUSTED_PROXIES, setting="TASKDECK_SSO_TRUSTED_PROXIES"
        )
    except ImproperlyConfigured:
        return []  # start-up refuses it already, with its own message
    broad = [n for n in networks if n.prefixlen < BROADEST_TRUSTED[n.version]]
    return [
        CheckWarning(
            f"TASKDECK_SSO_TRUSTED_PROXIES trusts {network} ("
            + ("every address" if not network.prefixlen else f"{network.num_addresses:,} addresses")
            + "): any of them may say who is signed in and with which groups.",
            hint="List only the SSO proxy's own addresses (e.g. 10.0.4.17/32), and keep "
            "Taskdeck unreachable except through it.",
            id="taskdeck.W011",
        )
        for network in broad
    ]


def parse_role_groups(text: str, *, setting: str = "TASKDECK_ROLE_GROUPS") -> dict[str, set[str]]:
    """``admin=ops-admins;editor=ops-supervisors,team-leads;viewer=ops`` -> role: groups."""
    mapping: dict[str, set[str]] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        role, equals, groups = part.partition("=")
        role = role.strip().lower()
        if not equals or role not in ROLES:
            raise ImproperlyConfigured(
                f"{setting} must read like admin=ops-admins;editor=team-leads;viewer=ops "
                f"(roles: {', '.join(ROLES)}); {part.strip()!r} is not understood."
            )
        mapping.setdefault(role, set()).update(
            unicodedata.normalize("NFC", g.strip()) for g in groups.split(",") if g.strip()
        )
    return mapping


def development_mode() -> bool:
    """Everyone is the development user: DEBUG without a proxy, or SSO turned off."""
    return bool(settings.TASKDECK_SSO_DISABLED) or (
        bool(settings.DEBUG) and not settings.TASKDECK_SSO_TRUSTED_PROXIES
    )


# --- The person behind a request ----------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    username: str
    role: str | None  # None: signed in, but no group of theirs grants a role
    groups: tuple[str, ...] = ()
    source: str = "sso"  # "sso", "development" or "sso-disabled"

    def has_role(self, role: str) -> bool:
        return self.role is not None and ROLES.index(self.role) >= ROLES.index(role)

    @property
    def can_edit(self) -> bool:
        return self.has_role("editor")

    @property
    def can_delete(self) -> bool:
        return self.has_role("admin")

    @property
    def can_audit(self) -> bool:
        """Editors see their own audit records, admins everyone's."""
        return self.has_role("editor")

    @property
    def development(self) -> bool:
        return self.source != "sso"

    @property
    def sso_disabled(self) -> bool:
        return self.source == "sso-disabled"


@functools.lru_cache(maxsize=8)
def _role_map(text: str) -> dict[str, set[str]]:
    return parse_role_groups(text)


@functools.lru_cache(maxsize=8)
def _trusted_networks(cidrs: tuple[str, ...]) -> tuple:
    return parse_networks(cidrs, setting="TASKDECK_SSO_TRUSTED_PROXIES")


def role_for(groups: Iterable[str]) -> str | None:
    """The highest role any of ``groups`` grants."""
    mapping = _role_map(settings.TASKDECK_ROLE_GROUPS)
    held = set(groups)
    for role in reversed(ROLES):
        if mapping.get(role, set()) & held:
            return role
    return None


def actor_of(request: HttpRequest) -> str:
    """Who acts: the identity string every write to TaskRouter and the audit trail carry."""
    identity = getattr(request, "identity", None)
    if identity is None:
        # Only the health checks run without an identity, and they write nothing.
        raise PermissionError("This request has no identity; it cannot write.")
    return identity.username


def identity_of(request: HttpRequest) -> Identity | None:
    return getattr(request, "identity", None)


class Refusal(Exception):
    """Why a request gets no identity: ``reason`` is shown to the person (no secrets)."""

    def __init__(self, reason: str, *, title: str = "Taskdeck does not know who you are") -> None:
        super().__init__(reason)
        self.reason = reason
        self.title = title


# --- Django's remote-user machinery, configured -------------------------------------------


class SSOBackend(RemoteUserBackend):
    """Creates a user the first time a person is seen. Roles are not stored on the user:
    they come from the groups header of each request (see `SSOMiddleware`)."""

    create_unknown_user = True

    def clean_username(self, username: str) -> str:
        return username.strip().lower()


def header_text(raw: str, header: str) -> str:
    """A header's value as the proxy sent it. WSGI hands every header over as latin-1 text
    (one character per byte), so ``josé`` in UTF-8 arrives as ``josÃ©``; SSO proxies send
    UTF-8, so the bytes are decoded again as UTF-8. Bytes that are not UTF-8 are refused
    rather than guessed at."""
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise Refusal(
            f"The {header} header is not UTF-8 text, so Taskdeck cannot read who you are. "
            "The SSO proxy must send identities as UTF-8.",
            title="Unusable identity",
        ) from None


# Unicode categories an identity never holds: controls, invisible format characters (zero
# width, bidirectional marks), private use, surrogates, unassigned, and every kind of space
# and line or paragraph separator. Such a character makes a name that looks the same as
# another and is not ("josé@x" and "josé@x" with a trailing no-break space).
_UNCLEAN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zs", "Zl", "Zp"})


def _unclean(text: str) -> str | None:
    """The first character that has no place in an identity, as U+XXXX, or None."""
    for character in text:
        if character.isspace() or unicodedata.category(character) in _UNCLEAN_CATEGORIES:
            return f"U+{ord(character):04X}"
    return None


def clean_identity(raw: str, header: str) -> str:
    """The identity from the user header (UTF-8, NFC-normalised, lower case), or a
    `Refusal` saying what is wrong with it."""
    value = unicodedata.normalize("NFC", header_text(raw, header).strip(" \t"))
    if "," in value:
        # Two headers joined by the server: a proxy appended instead of replacing.
        raise Refusal(
            f"The {header} header was sent more than once; Taskdeck believes only one. "
            "The SSO proxy must replace identity headers, not add to them.",
            title="Ambiguous identity",
        )
    character = _unclean(value)
    if character is not None:
        raise Refusal(
            f"The {header} header holds a space, a control or an invisible character "
            f"({character}), so it cannot name one person. The SSO proxy must send the "
            "identity alone.",
            title="Unusable identity",
        )
    if not value or len(value) > MAX_IDENTITY_LENGTH or not _IDENTITY.fullmatch(value):
        raise Refusal(
            f"The {header} header does not hold an identity Taskdeck can use "
            f"(one name or email address, at most {MAX_IDENTITY_LENGTH} characters).",
            title="Unusable identity",
        )
    return value.lower()


def parse_groups(raw: str, header: str = "groups") -> tuple[str, ...]:
    """Groups from the groups header: UTF-8 like the identity, NFC-normalised, so a group
    named with an accent matches TASKDECK_ROLE_GROUPS however the proxy composed it."""
    text = unicodedata.normalize("NFC", header_text(raw, header))
    return tuple(sorted({g.strip() for g in text.split(",") if g.strip()}))


def peer_is_trusted(request: HttpRequest) -> bool:
    networks = _trusted_networks(tuple(settings.TASKDECK_SSO_TRUSTED_PROXIES))
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "").strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


# How long an instance takes a person's account as known and active without asking the
# database again (the cache is shared by every instance when CACHE_URL is Redis).
ACCOUNT_CHECK_SECONDS = 300


def sign_in(request: HttpRequest, username: str) -> bool:
    """Whether ``username`` may sign in (their account is created the first time they are
    seen); ``request.user`` becomes their account, loaded only if something reads it.

    The proxy vouches for the person on every request, so nothing is kept in a session (a
    client without cookies, curl in a runbook or a load test, would otherwise write a
    session row per request). Asking Django's backend on every request cost a query and
    its bookkeeping on every page; the answer is remembered in the cache instead, so an
    account made inactive is refused within ACCOUNT_CHECK_SECONDS."""
    key = _account_key(username)
    if not _remembered(key):
        user = auth.authenticate(request, remote_user=username)
        if user is None or user.get_username() != username:
            return False
        with contextlib.suppress(Exception):  # a cache that is down only costs the query
            cache.set(key, True, ACCOUNT_CHECK_SECONDS)
        request.user = user
        return True
    model = auth.get_user_model()
    request.user = SimpleLazyObject(lambda: model._default_manager.get_by_natural_key(username))
    return True


def _account_key(username: str) -> str:
    """The cache key remembering that ``username`` may sign in. It names the database the
    answer came from, besides the deployment's cache prefix: two deployments sharing a
    Redis by mistake (the same TASKDECK_CACHE_PREFIX) still never take each other's word
    for an account, which one of them may have deactivated."""
    return f"taskdeck:account:{_database_fingerprint()}:{_digest(username)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _database_fingerprint() -> str:
    database = settings.DATABASES["default"]
    return _fingerprint(
        "|".join(str(database.get(part) or "") for part in ("ENGINE", "HOST", "PORT", "NAME"))
    )


@functools.lru_cache(maxsize=8)
def _fingerprint(where: str) -> str:
    return _digest(where)[:16]


def _remembered(key: str) -> bool:
    try:
        return bool(cache.get(key))
    except Exception:  # the cache may be down (Redis restarting): ask the database
        return False


# The only POSTs a viewer may make: to their own saved views and landing view, which never
# reach TaskRouter (tasks_app/saved_views checks who may do what to which view).
ANYONE_MAY_POST = frozenset(
    {"saved_view_save", "saved_view_land", "saved_view", "saved_view_remove"}
)


def _anyone_may_post(request: HttpRequest) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.url_name in ANYONE_MAY_POST


class SSOMiddleware(RemoteUserMiddleware):
    """Sets ``request.identity`` on every request (except the health checks), or answers
    403 saying what is missing. Place it after AuthenticationMiddleware."""

    # Taskdeck runs under WSGI; Django adapts this middleware for ASGI if ever needed.
    async_capable = False

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        # Loaded with the WSGI application: a typo in the settings stops start-up here
        # rather than refusing every request later.
        parse_networks(
            settings.TASKDECK_SSO_TRUSTED_PROXIES, setting="TASKDECK_SSO_TRUSTED_PROXIES"
        )
        parse_role_groups(settings.TASKDECK_ROLE_GROUPS)
        if settings.TASKDECK_DEV_ROLE.strip().lower() not in ROLES:
            raise ImproperlyConfigured(f"TASKDECK_DEV_ROLE must be one of {', '.join(ROLES)}.")

    @property
    def header(self) -> str:  # read per request, so settings changes apply at once
        return meta_key(settings.TASKDECK_SSO_USER_HEADER)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.identity = None
        if request.path_info.rstrip("/") in EXEMPT_PATHS:
            return self.get_response(request)
        try:
            identity = self.identify(request)
        except Refusal as refusal:
            return forbidden(request, refusal.reason, title=refusal.title)
        if identity.role is None:
            # request.identity stays None: pages show nothing of Taskdeck to them.
            return forbidden(
                request,
                f"You are signed in as {identity.username}, but none of your groups "
                "grants a Taskdeck role (viewer, editor or admin). Ask an administrator to "
                "add you to one of the groups in TASKDECK_ROLE_GROUPS.",
                title="No Taskdeck role",
            )
        request.identity = identity
        if (
            request.method not in SAFE_METHODS
            and not request.identity.can_edit
            and not _anyone_may_post(request)
        ):
            # Every write in Taskdeck is a POST (or another unsafe method): refused here
            # too, so a view that forgot its require_role still cannot let a viewer write.
            return forbidden(request, _refusal_text(request.identity, "editor"))
        return self.get_response(request)

    def identify(self, request: HttpRequest) -> Identity:
        user_header = settings.TASKDECK_SSO_USER_HEADER
        groups_header = settings.TASKDECK_SSO_GROUPS_HEADER
        sent = [h for h in (user_header, groups_header) if meta_key(h) in request.META]
        if development_mode():
            if sent:
                # A proxy in front of an instance that ignores it: say so, do not guess.
                self._log_refusal(request, "identity headers while SSO is off")
                raise Refusal(
                    f"This request carries {', '.join(sent)}, but Taskdeck is not "
                    "configured to trust any proxy (TASKDECK_SSO_TRUSTED_PROXIES).",
                    title="Identity headers refused",
                )
            return self._development_user(request)
        if not settings.TASKDECK_SSO_TRUSTED_PROXIES:
            raise Refusal(
                "Taskdeck has no trusted SSO proxy configured (TASKDECK_SSO_TRUSTED_PROXIES), "
                "so it cannot know who you are.",
                title="Sign-in is not configured",
            )
        if sent and not peer_is_trusted(request):
            self._log_refusal(request, "identity headers from an untrusted peer")
            raise Refusal(
                "Identity headers are only accepted from Taskdeck's SSO proxy, and this "
                "request did not come through it.",
                title="Identity headers refused",
            )
        if meta_key(user_header) not in request.META:
            if request.user.is_authenticated:
                self._remove_invalid_user(request)
            raise Refusal(
                f"The request has no {user_header} header. Open Taskdeck through the "
                "company's sign-in (SSO) address, not its server address.",
            )
        username = clean_identity(request.META[meta_key(user_header)], user_header)
        if not sign_in(request, username):
            raise Refusal(f"The account {username} cannot sign in to Taskdeck.")
        groups = parse_groups(request.META.get(meta_key(groups_header), ""), groups_header)
        return Identity(username=username, role=role_for(groups), groups=groups)

    def _development_user(self, request: HttpRequest) -> Identity:
        username = settings.TASKDECK_DEV_USER.strip().lower() or "developer@localhost"
        role = settings.TASKDECK_DEV_ROLE.strip().lower()
        if role not in ROLES:
            raise ImproperlyConfigured(f"TASKDECK_DEV_ROLE must be one of {', '.join(ROLES)}.")
        if not sign_in(request, username):
            raise Refusal(f"The development user {username} cannot sign in.")
        source = "sso-disabled" if settings.TASKDECK_SSO_DISABLED else "development"
        return Identity(username=username, role=role, source=source)

    def _log_refusal(self, request: HttpRequest, what: str) -> None:
        # %r: header values are attacker-controlled; repr keeps them on one line.
        logger.warning(
            "refused %s: peer=%r path=%r user_header=%r",
            what,
            request.META.get("REMOTE_ADDR", ""),
            request.path,
            request.META.get(meta_key(settings.TASKDECK_SSO_USER_HEADER), "")[:200],
        )


# --- Refusals -----------------------------------------------------------------------------


def forbidden(request: HttpRequest, reason: str, *, title: str = "Not allowed") -> HttpResponse:
    """A 403 that says why; htmx gets only the message, swapped in where the user acted."""
    htmx = request.headers.get("HX-Request") == "true"
    template = "identity/forbidden.html#refusal" if htmx else "identity/forbidden.html"
    response = render(request, template, {"title": title, "reason": reason}, status=403)
    # Taskdeck's own answer: static/js/taskdeck.js swaps it in even though it is a 4xx.
    response["Taskdeck-Fragment"] = "1"
    patch_vary_headers(response, ["HX-Request"])
    return response


_WHAT_ROLE_ALLOWS = {
    "editor": "changing tasks (editing, creating, cancelling, completing, bulk actions)",
    "admin": "this (deleting tasks and reading everyone's audit trail)",
}


def _refusal_text(identity: Identity | None, role: str) -> str:
    held = (identity.role if identity else None) or "no role"
    return (
        f"Your role ({held}) does not allow {_WHAT_ROLE_ALLOWS.get(role, 'this')}; "
        f"that needs the {role} role. Nothing was changed."
    )


def role_refusal(request: HttpRequest, role: str) -> HttpResponse | None:
    """For a view whose required role depends on what is asked (one view saving every
    section of the task page, delete included): the 403 to answer with, or None."""
    identity = identity_of(request)
    if identity is None or not identity.has_role(role):
        return forbidden(request, _refusal_text(identity, role))
    return None


def require_role(role: str) -> Callable:
    """Refuse the view with a 403 unless the person's role is at least ``role``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            return role_refusal(request, role) or view(request, *args, **kwargs)

        wrapper.required_role = role  # tests list every guarded view by this
        return wrapper

    return decorate
