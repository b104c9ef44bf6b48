"""The shared async HTTP client: one retry loop for every system.

Retryable errors back off exponentially with jitter; when the server said how long to wait
(Retry-After, X-RateLimit-Reset) that wait is honoured instead. Fatal errors surface at once.
Every request on the wire, token requests and retries included, takes a slot of the
connection's rate budget first (see ``budget``).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from ml_connector.api.budget import BudgetedTransport, Rate, RateBudget
from ml_connector.api.errors import (
    BackpressureError,
    RetryableError,
    UnreadableAnswer,
    check_json_answer,
    from_transport_error,
    raise_for_status,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """In-process retries; what still fails after these goes to the retry tiers."""

    attempts: int = 6
    max_wait: float = 30.0
    max_total: float = 120.0
    base: float = 0.5


class _ServerAwareWait:
    def __init__(self, policy: RetryPolicy) -> None:
        self._jitter = wait_random_exponential(multiplier=policy.base, max=policy.max_wait)
        self._max = policy.max_wait

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, BackpressureError):
            return min(exc.retry_after, self._max)
        return float(self._jitter(state))


# Methods whose repetition does no harm even when the first attempt did land.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def _retry_in_place(method: str, exc: BaseException) -> bool:
    if isinstance(exc, UnreadableAnswer):
        return method.upper() in IDEMPOTENT
    return isinstance(exc, RetryableError)


class ApiClient:
    """An httpx.AsyncClient with the project's timeouts, error sorting, budget and retries."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth | None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 100.0,
        verify: bool | str = True,
        headers: dict[str, str] | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.budget = budget or RateBudget(Rate())
        # A CA bundle path becomes a context: httpx deprecates verify=<path>.
        tls = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        transport = BudgetedTransport(httpx.AsyncHTTPTransport(verify=tls), self.budget)
        self.http = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
            headers={"Accept": "application/json", **(headers or {})},
        )

    async def request_once(
        self, method: str, url: str | httpx.URL, **kwargs: Any
    ) -> httpx.Response:
        """One attempt, errors sorted but not retried (for callers that poll anyway)."""
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise from_transport_error(exc) from exc
        except httpx.DecodingError as exc:  # a body its Content-Encoding does not decode
            raise UnreadableAnswer(f"{method} {url}: undecodable answer ({exc})") from exc
        raise_for_status(response)
        check_json_answer(response)
        return response

    async def request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda e: _retry_in_place(method, e)),
            wait=_ServerAwareWait(self.retry),
            stop=stop_after_attempt(self.retry.attempts) | stop_after_delay(self.retry.max_total),
            reraise=True,
        ):
            with attempt:
                return await self.request_once(method, url, **kwargs)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        return (await self.request("GET", url, **kwargs)).json()

    async def send_json(self, method: str, url: str, body: Any = None, **kwargs: Any) -> Any:
        """A write with a JSON body; the parsed answer, or None for an empty one (204)."""
        response = await self.request(method, url, json=body, **kwargs)
        return response.json() if response.content else None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
