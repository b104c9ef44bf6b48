"""The shared-secret header that pushes without a signature carry (ServiceNow Business
Rules, Acumatica push notifications): checked on every request, in constant time."""

from __future__ import annotations

import secrets
from typing import Protocol

from starlette.requests import Request

from ml_connector.connections.base import SecretRef, describe_secret
from producers.notifications import NotifierContext

MIN_LENGTH = 16  # an empty or short secret would let anyone who finds the URL push


class PushSettings(Protocol):
    @property
    def header(self) -> str: ...

    @property
    def secret(self) -> SecretRef: ...


class SharedSecret:
    def __init__(self, header: str, secret: str) -> None:
        self.header = header
        self._secret = secret

    @classmethod
    def of(cls, ctx: NotifierContext, push: PushSettings) -> SharedSecret:
        """The connection's push secret from the store; a short one stops the receiver."""
        secret = ctx.secrets.get(push.secret).get_secret_value()
        if len(secret) < MIN_LENGTH:
            raise ValueError(
                f"connections.{ctx.name}.push.secret: the {describe_secret(push.secret)} must "
                f"be at least {MIN_LENGTH} characters"
            )
        return cls(push.header, secret)

    def accepts(self, request: Request) -> bool:
        given = request.headers.get(self.header, "").encode("latin-1", "replace")
        return bool(given) and secrets.compare_digest(given, self._secret.encode())

    @property
    def refusal(self) -> str:
        return f"missing or wrong {self.header} header"
