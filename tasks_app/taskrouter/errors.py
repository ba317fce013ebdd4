"""One error hierarchy for everything that can go wrong between Taskdeck and TaskRouter.

Every error carries a ``user_message`` that is safe to show a supervisor (no credentials,
no stack traces, no raw bodies) and, where TaskRouter answered, its HTTP status, Twilio's
error code and the request id. Views and forms only ever see these classes: the client
turns every ``requests`` exception and every non-2xx answer into one of them.

This module is pure Python (no Django) so the sandbox can raise the same validation error.
"""

from __future__ import annotations

import re

# TaskRouter's refusals name the account ("Cannot update task WT... in workspace WS... for
# account AC..."): a supervisor needs neither the account SID nor the noise.
_ACCOUNT_CLAUSE = re.compile(r"\s*(?:for|in|of) account AC[0-9a-fA-F]{32}")


class TaskRouterError(Exception):
    """Base class. ``str(error)`` is the user-safe message; ``page_status`` the HTTP status
    of a Taskdeck page that could not do its work because of it."""

    default_message = "TaskRouter could not complete the request."
    page_status = 502

    def __init__(
        self,
        user_message: str | None = None,
        *,
        http_status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
        more_info: str | None = None,
    ) -> None:
        self.user_message = user_message or self.default_message
        self.http_status = http_status
        self.code = code
        self.request_id = request_id
        self.more_info = more_info
        super().__init__(self.user_message)


class InvalidParameter(TaskRouterError, ValueError):
    """A value TaskRouter would reject for its shape, caught before sending.

    ``param`` is TaskRouter's PascalCase parameter name (``Priority``, ``Attributes``), so a
    form can put the message next to the field that holds it and the sandbox can answer
    with Twilio's 400 body.
    """

    default_message = "A value is not valid for TaskRouter."
    page_status = 400

    def __init__(self, user_message: str, *, param: str | None = None, **kwargs) -> None:
        super().__init__(user_message, **kwargs)
        self.param = param


class NotFound(TaskRouterError):
    """404 (code 20404): unknown SID, or a closed task TaskRouter has already purged."""

    default_message = (
        "TaskRouter has no such resource. Closed tasks are removed a few minutes after they end."
    )
    page_status = 404


class PreconditionFailed(TaskRouterError):
    """412 (code 20412): the task changed since it was read; the If-Match ETag is stale."""

    default_message = "The task changed since you opened it."
    page_status = 412


class Rejected(TaskRouterError):
    """400 (or another 4xx) with Twilio's code and message: TaskRouter refused the request."""

    default_message = "TaskRouter refused the request."
    page_status = 400

    def __init__(self, user_message: str | None = None, **kwargs) -> None:
        if user_message:
            user_message = _ACCOUNT_CLAUSE.sub("", user_message)
        super().__init__(user_message, **kwargs)


class AuthenticationFailed(TaskRouterError):
    """401/403 (code 20003): the configured credentials are wrong or lack permission."""

    default_message = (
        "TaskRouter did not accept Taskdeck's credentials. An administrator needs to check "
        "the TWILIO_* settings."
    )


class RateLimited(TaskRouterError):
    """429 (code 20429) after the retries allowed for it ran out."""

    default_message = "TaskRouter is rate limiting requests. Try again in a few seconds."
    page_status = 503


class Unavailable(TaskRouterError):
    """Timeouts, refused or dropped connections, 5xx answers and bodies that are not JSON."""

    default_message = "TaskRouter is not answering right now. Try again in a moment."
    page_status = 503


class Misconfigured(TaskRouterError):
    """Taskdeck's own settings cannot work (no credentials, a malformed base URL)."""

    default_message = (
        "Taskdeck is not configured to reach TaskRouter. An administrator needs to check "
        "its settings."
    )
