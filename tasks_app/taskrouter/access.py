"""How Taskdeck reaches TaskRouter: the base URL, and the HTTP Basic pair every call sends.

The same rules run twice: in settings at start-up, so a deployment that could only answer
502 stops with one line saying what to set, and in the client on every call (settings may
change under tests). Pure Python, no Django: settings import it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import Misconfigured


def checked_base_url(url: str) -> str:
    """The base URL without a trailing slash; an http(s) URL with a host, or Misconfigured."""
    base_url = url.rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Misconfigured(
            "TASKROUTER_BASE_URL must be an http(s) URL such as https://taskrouter.twilio.com."
        )
    return base_url


def basic_auth(
    *, account_sid: str, auth_token: str, api_key: str, api_secret: str
) -> tuple[str, str]:
    """API Key + secret when given, else Account SID + Auth Token: Twilio accepts either
    pair on every TaskRouter path (docs/taskrouter.md). Misconfigured when neither is whole."""
    if api_key or api_secret:
        if not (api_key and api_secret):
            raise Misconfigured("TWILIO_API_KEY and TWILIO_API_SECRET must be set together.")
        return api_key, api_secret
    if account_sid and auth_token:
        return account_sid, auth_token
    raise Misconfigured(
        "Taskdeck has no TaskRouter credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, "
        "or TWILIO_API_KEY, TWILIO_API_SECRET and TWILIO_ACCOUNT_SID."
    )
