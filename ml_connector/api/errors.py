"""Errors sorted once, so every caller decides by class and never by status code.

ApiError
├── RetryableError      429 without budget info, 5xx, 408, timeouts, dropped connections
│   └── BackpressureError   the server said how long to wait (Retry-After / rate headers)
└── FatalError          validation, not found, forbidden, conflicts: retrying cannot help
"""

from __future__ import annotations

import email.utils
import time

import httpx


class ApiError(Exception):
    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class RetryableError(ApiError):
    """Worth trying again after a backoff."""


class BackpressureError(RetryableError):
    """The server asked us to slow down and said for how long."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class FatalError(ApiError):
    """The request itself is wrong for the server; it goes to the dead-letter topic."""


RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or X-RateLimit-Reset."""
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, parsed.timestamp() - time.time())
    reset = response.headers.get("X-RateLimit-Reset")
    if reset and response.status_code == 429:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None


def _summary(response: httpx.Response) -> str:
    # Bodies of error answers carry the vendor's message; request bodies (which may hold
    # credentials) are never part of an error.
    text = response.text[:500] if response.content else ""
    url = response.request.url.copy_with(query=None)
    return f"{response.request.method} {url} -> {response.status_code} {text}"


def raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = _summary(response)
    if status in RETRYABLE_STATUS:
        wait = retry_after_seconds(response)
        if wait is not None:
            raise BackpressureError(message, retry_after=wait, status=status)
        raise RetryableError(message, status=status, body=response.text)
    raise FatalError(message, status=status, body=response.text)


def from_transport_error(exc: httpx.TransportError) -> RetryableError:
    return RetryableError(f"{type(exc).__name__}: {exc}")
