"""Health checks for the load balancer; no SSO, no TaskRouter, any Host (see
dashboard.middleware.ProbesMiddleware)."""

from __future__ import annotations

from django.core.cache import InvalidCacheBackendError, caches
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def livez(request: HttpRequest) -> HttpResponse:
    """The process is up. No dependency checks: one outage must not restart every pod."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """What this instance can serve, said truthfully.

    - The database answers: ready (200). It holds who may sign in, the audit trail and bulk
      jobs; without it nothing can be served, so it is 503 and the load balancer moves on.
    - Redis (the shared cache, or the state store of REDIS_URL) does not answer: still 200,
      but ``"status": "degraded"`` with the engine named. Pages keep working without it
      (slower: every page reads TaskRouter itself, and say so); every instance shares the
      same Redis, so taking them all out of the load balancer would turn a slow service
      into no service.
    - TaskRouter is deliberately not checked, for the same reason.
    """
    body: dict[str, str] = {"database": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database failure means "not ready"
        body["database"] = "error"
    for name, alias in (("cache", "default"), ("state", "state")):
        answered = _redis_answers(alias)
        if answered is not None:
            body[name] = "ok" if answered else "error"
    if body["database"] != "ok":
        return JsonResponse({"status": "unavailable", **body}, status=503)
    degraded = "error" in body.values()
    return JsonResponse({"status": "degraded" if degraded else "ok", **body})


def _redis_answers(alias: str) -> bool | None:
    """Whether the Redis behind a cache alias answers a PING now; None for a cache that is
    not a Redis (local memory) or an alias that is the default cache again."""
    try:
        backend = caches[alias]
    except InvalidCacheBackendError:
        return None
    if alias != "default" and getattr(backend, "location", None) == getattr(
        caches["default"], "location", None
    ):
        return None
    ping = getattr(backend, "ping", None)
    return ping() if ping is not None else None
