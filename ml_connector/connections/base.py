"""What every connection shares: strict models, secret references, client-side budgets.

Each system's connection model lives in its own module beside this one and is registered
once in ``ml_connector.systems``; the configuration's union of connections is built from there.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    """Strict (unknown keys are errors) and frozen: a misspelt key silently ignored is the most
    expensive kind of configuration bug."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(Model):
    """A pointer into the encrypted secret store; secrets never sit in the YAML file."""

    secret: str = Field(min_length=1, description="name of the secret in the store")


class EntraClientCredentials(Model):
    kind: Literal["entra_client_credentials"]
    token_url: str = Field(
        description="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    )
    client_id: str
    client_secret: SecretRef
    scope: str = "https://api.businesscentral.dynamics.com/.default"


class RateLimit(Model):
    """A connection's client-side budget: ``requests`` per moving ``per_seconds``, and at most
    ``concurrency`` at once (None: no cap of that kind)."""

    requests: int | None = Field(default=None, ge=1)
    per_seconds: float = Field(default=1.0, gt=0)
    concurrency: int | None = Field(default=None, ge=1)


class ConnectionBase(Model):
    """What every connection has besides its system's own keys."""

    # The vendor's documented ceiling; where none is documented, a modest concurrency cap.
    default_rate_limit: ClassVar[RateLimit] = RateLimit(concurrency=5)

    system: str = Field(description="which system this connection is")
    verify: bool | str = Field(
        default=True, description="verify TLS: true, false, or the path of a CA bundle"
    )
    timeout_seconds: float = Field(default=100.0, gt=0)
    rate_limit: RateLimit | None = Field(
        default=None, description="client-side budget; defaults to the system's documented one"
    )

    @property
    def rate(self) -> RateLimit:
        return self.rate_limit or self.default_rate_limit

    @property
    def url(self) -> str:
        """Where the system's API is (what ``ping`` reaches first)."""
        raise NotImplementedError

    @property
    def notifies(self) -> bool:
        """Whether this connection's changes also arrive at the webhook receiver."""
        return False

    @property
    def needs_callback_url(self) -> bool:
        """Whether the system must be told an address to call back (``webhooks.public_url``)."""
        return False
