"""The sandbox's refusals in Twilio's error shape (HTTP status, Twilio code, message)."""

from __future__ import annotations

__all__ = ["ApiError", "bad_request", "not_found", "precondition_failed"]


class ApiError(Exception):
    """An answer in Twilio's error shape: HTTP status, Twilio code, message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(path: str) -> ApiError:
    return ApiError(404, 20404, f"The requested resource {path} was not found")


def bad_request(message: str) -> ApiError:
    return ApiError(400, 20001, message)


def precondition_failed(if_match: str, version: int, what: str) -> ApiError:
    return ApiError(
        412,
        20412,
        f"Precondition Failed: If-Match {if_match.strip()[:40]} does not match the current "
        f"ETag {version} of {what}.",
    )
