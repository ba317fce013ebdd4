"""Who may call the sandbox: HTTP Basic with an Account SID + Auth Token or an API Key + secret.

Twilio accepts both pairs on every TaskRouter path ([ReqDoc]; docs/taskrouter.md);
TaskRouter paths carry no AccountSid, so the account comes from the credentials. A sandbox
serves exactly one account: every resource it answers with carries that account's SID.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field

__all__ = ["DEVELOPMENT_CREDENTIALS", "Credentials"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """The one account a sandbox serves, and the secrets it accepts for it.

    Secrets are left out of ``repr`` so a credentials object can be logged safely.
    """

    account_sid: str
    auth_token: str = field(repr=False)
    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)

    @classmethod
    def development(cls) -> Credentials:
        """The documented development credentials (the README lists them)."""
        return cls(
            account_sid="AC7461736b6465636b2073616e64626f78",
            auth_token="sandbox-auth-token",  # noqa: S106 - a published development secret
            api_key="SK7461736b6465636b2073616e64626f78",
            api_secret="sandbox-api-secret",  # noqa: S106 - a published development secret
        )

    def accepts(self, username: str, password: str) -> bool:
        """True when ``username``/``password`` is one of the two accepted pairs."""
        # compare_digest on every candidate, so timing says nothing about which part failed.
        account_ok = _same(username, self.account_sid) & _same(password, self.auth_token)
        key_ok = False
        if self.api_key and self.api_secret:
            key_ok = _same(username, self.api_key) & _same(password, self.api_secret)
        return bool(account_ok or key_ok)

    def accepts_authorization(self, header: str | None) -> bool:
        """Check an ``Authorization`` header value (``Basic base64(user:password)``)."""
        if not header:
            return False
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, sep, password = decoded.partition(":")
        return bool(sep) and self.accepts(username, password)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


DEVELOPMENT_CREDENTIALS = Credentials.development()
