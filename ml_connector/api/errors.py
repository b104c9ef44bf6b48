"""Errors sorted once, so every caller decides by class and never by status code.

ApiError
├── RetryableError      429 without budget info, 5xx, 408, timeouts, dropped connections
│   └── BackpressureError   the server said how long to wait (Retry-After / rate headers)
└── FatalError          validation, not found, forbidden, conflicts: retrying cannot help
    ├── NotFound            404: unknown record, entity, table or API version
    ├── Conflict            412: the record changed since it was read (stale etag)
    ├── AlreadyExists       a create hit an existing natural key; sinks read back, then done
    └── InvalidFields       400/422 naming fields (Acumatica, ServiceTitan): the messages
                            per field travel with the error to the dead-letter topic
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterable
from typing import Any

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


class UnreadableAnswer(RetryableError):
    """A success status with a body that is not JSON (an HTML error page from a proxy, a
    truncated or empty answer): transient junk. After a write it is unknown whether the write
    happened, so only the whole write (which looks up before it creates) may be tried again."""


class FatalError(ApiError):
    """The request itself is wrong for the server; it goes to the dead-letter topic."""


class CredentialsRejected(FatalError):
    """The system refused the connection's credentials: no record is at fault, and none will
    get through until someone fixes the secret or the grant."""


class NotFound(FatalError):
    """The record or resource does not exist (404)."""


class Conflict(FatalError):
    """A precondition failed (412): someone changed the record since we read its etag."""


class AlreadyExists(FatalError):
    """A create found the key taken: for an idempotent sink this means "done, read it back"."""


class InvalidFields(FatalError):
    """Validation failed on named fields; ``fields`` maps each field to its messages."""

    def __init__(
        self, message: str, *, fields: dict[str, list[str]], status: int | None, body: str = ""
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.fields = fields


RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}

# Markers of a duplicate natural key in the vendors' error bodies: BC/NAV's error code, the
# AX-kernel wording that F&O's OData service passes through, ServiceTitan's taken codes.
DUPLICATE_KEY_MARKERS = (
    "Internal_EntityWithSameKeyExists",
    "already exists",
    "duplicate key",
    "is already in use",
)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or X-RateLimit-Reset."""
    value = response.headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            return max(0.0, parsed.timestamp() - time.time())
    reset = response.headers.get("X-RateLimit-Reset")
    if reset and response.status_code == 429:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None


# Request headers that carry credentials; a peer that echoes the request (a misconfigured
# proxy, a debug endpoint) must not put them into an error, a log line or a DLQ header.
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "st-app-key", "x-api-key")
SHOWN_BODY = 300  # characters of a peer's answer kept in an error message


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and each part of a ``scheme value`` or ``a=b; c=d``) out."""
    parts: set[str] = set()
    for secret in secrets:
        parts.add(secret)
        parts.update(secret.split(" ", 1)[1:])
        parts.update(p.split("=", 1)[-1] for p in secret.split(";"))
    for part in sorted((p.strip() for p in parts), key=len, reverse=True):
        if len(part) >= 4:  # shorter is no secret, and replacing it would mangle the text
            text = text.replace(part, "[redacted]")
    return text


def request_credentials(response: httpx.Response) -> list[str]:
    try:
        headers = response.request.headers
    except RuntimeError:  # a response built without a request
        return []
    return [headers[h] for h in CREDENTIAL_HEADERS if h in headers]


def peer_text(response: httpx.Response) -> str:
    """The answer's body, with whatever credentials the request carried taken out."""
    text = response.text if response.content else ""
    return redact(text, request_credentials(response))


def _summary(response: httpx.Response, text: str) -> str:
    # Bodies of error answers carry the vendor's message; request bodies (which may hold
    # credentials) are never part of an error, and neither is the query string (filters may
    # name customers, and some legacy APIs take keys there).
    url = response.request.url.copy_with(query=None)
    return f"{response.request.method} {url} -> {response.status_code} {text[:SHOWN_BODY]}"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def field_errors(body: Any) -> dict[str, list[str]]:
    """Per-field messages from the two shapes that carry them.

    RFC 7807 (ServiceTitan): ``{"errors": {"Field": ["msg", ...]}}``. Acumatica: the record
    comes back with ``"error"`` strings on the offending fields, ``{"Field": {"value": x,
    "error": "msg"}}``, nested in detail lines too, plus a top-level ``"error"``.
    """
    found: dict[str, list[str]] = {}
    if not isinstance(body, dict):
        return found
    errors = body.get("errors")
    if isinstance(errors, dict):
        for name, messages in errors.items():
            items = messages if isinstance(messages, list) else [messages]
            found[str(name)] = [str(m) for m in items]

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict) and isinstance(value.get("error"), str):
                    found.setdefault(prefix + key, []).append(value["error"])
                if isinstance(value, dict | list) and key != "errors":
                    walk(value, f"{prefix}{key}.")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{prefix}{index}.")

    walk(body, "")
    return found


def raise_for_status(response: httpx.Response, *, secrets: Iterable[str] = ()) -> None:
    """Raise the error class the status means; ``secrets`` (besides the request's own
    credential headers) are taken out of what the answer echoes."""
    status = response.status_code
    if status < 400:
        return
    text = redact(peer_text(response), secrets)
    message = _summary(response, text)
    # Before the retryable check: F&O reports a duplicate key as a 500, and retrying a
    # create whose key exists can never succeed.
    if status in (400, 409, 422, 500) and any(
        marker.lower() in text.lower() for marker in DUPLICATE_KEY_MARKERS
    ):
        raise AlreadyExists(message, status=status, body=text)
    if status in RETRYABLE_STATUS:
        wait = retry_after_seconds(response)
        if wait is not None:
            raise BackpressureError(message, retry_after=wait, status=status)
        raise RetryableError(message, status=status, body=text)
    if status in (401, 403):
        raise CredentialsRejected(message, status=status, body=text)
    if status == 404:
        raise NotFound(message, status=status, body=text)
    if status == 412:
        raise Conflict(message, status=status, body=text)
    if status in (400, 422):
        fields = field_errors(_json(response))
        if fields:
            listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items())
            raise InvalidFields(f"{message} [{listed}]", fields=fields, status=status, body=text)
    raise FatalError(message, status=status, body=text)


def check_json_answer(response: httpx.Response) -> None:
    """Raise UnreadableAnswer unless a successful answer's body is a JSON object or array
    (a write's answer may be empty)."""
    if response.status_code == 204 or response.status_code >= 300:
        return
    if not response.content:
        if response.request.method == "GET":
            raise UnreadableAnswer(_summary(response, "(an empty body where JSON was expected)"))
        return
    try:
        body = json.loads(response.content)
    except ValueError:  # not JSON, or not UTF-8
        kind = response.headers.get("Content-Type", "no content type")
        raise UnreadableAnswer(_summary(response, f"(not JSON: {kind})")) from None
    if not isinstance(body, dict | list):
        raise UnreadableAnswer(_summary(response, f"(JSON {type(body).__name__}, not an object)"))


def from_transport_error(exc: httpx.TransportError) -> RetryableError:
    return RetryableError(f"{type(exc).__name__}: {exc}")
