"""What every connection shares: strict models, secret references, client-side budgets.

Each system's connection model lives in its own module beside this one and is registered
once in ``ml_connector.systems``; the configuration's union of connections is built from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag


class Model(BaseModel):
    """Strict (unknown keys are errors) and frozen: a misspelt key silently ignored is the most
    expensive kind of configuration bug."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StoredSecret(Model):
    """A secret in the encrypted store, by name."""

    secret: str = Field(min_length=1, description="name of the secret in the store")


class EnvSecret(Model):
    """A secret in an environment variable (what container platforms inject)."""

    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="variable name")


class FileSecret(Model):
    """A secret in a file (a mounted Kubernetes Secret); its final newline is dropped."""

    file: Path = Field(description="path of the file holding the secret")


def _secret_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((k for k in ("secret", "env", "file") if k in value), None)
    if isinstance(value, StoredSecret):
        return "secret"
    if isinstance(value, EnvSecret):
        return "env"
    return "file" if isinstance(value, FileSecret) else None


def describe_secret(ref: StoredSecret | EnvSecret | FileSecret) -> str:
    """Where a secret is, for messages (never what it is)."""
    if isinstance(ref, EnvSecret):
        return f"environment variable {ref.env}"
    if isinstance(ref, FileSecret):
        return f"secret file {ref.file}"
    return f"secret {ref.secret!r}"


# Where a secret comes from; secret values never sit in the YAML file.
SecretRef = Annotated[
    Annotated[StoredSecret, Tag("secret")]
    | Annotated[EnvSecret, Tag("env")]
    | Annotated[FileSecret, Tag("file")],
    Discriminator(
        _secret_kind,
        custom_error_type="secret_reference",
        custom_error_message="give {secret: NAME} (the encrypted store), {env: VARIABLE} "
        "or {file: PATH}, never the secret itself",
    ),
]


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
