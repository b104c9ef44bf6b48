"""Credentials encrypted at rest (Fernet), referenced by name from the config file.

The key comes from ``MLC_SECRET_KEY`` or a key file, never from the store itself, so a copied
store file is useless on its own. Values are handed out as ``SecretStr`` so that an accidental
log line or repr prints ``**********`` rather than the secret.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import Field, SecretStr

from ml_connector.connections.base import EnvSecret, FileSecret, Model, SecretRef, StoredSecret

KEY_ENV = "MLC_SECRET_KEY"


class SecretsConfig(Model):
    """The config file's ``secrets`` section."""

    store: Path = Field(default=Path(".mlc/secrets.json"), description="encrypted secret file")
    key_file: Path | None = Field(
        default=None, description="Fernet key file; MLC_SECRET_KEY overrides it"
    )


class SecretError(Exception):
    """A secret that cannot be read; the message names the secret, never its value."""


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from its first byte (never umask-readable),
    replacing the old one in a single step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


MAX_SECRET_FILE = 64 * 1024


def _read_secret_file(path: Path) -> str:
    """A mounted secret (a Kubernetes Secret volume): the file's text without its final
    newline, which editors and ``echo`` add."""
    try:
        if path.stat().st_size > MAX_SECRET_FILE:
            raise SecretError(f"secret file {path} is larger than {MAX_SECRET_FILE} bytes")
        value = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
    except OSError as exc:
        raise SecretError(f"secret file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretError(f"secret file {path} is not UTF-8 text") from None
    if not value:
        raise SecretError(f"secret file {path} is empty")
    return value


def generate_key() -> str:
    return Fernet.generate_key().decode()


class SecretStore:
    """The encrypted store, and the one place any secret reference is turned into a value.

    Without a key the store still resolves ``{env: ...}`` and ``{file: ...}`` references (what
    container platforms mount); only stored secrets and sealing need it.
    """

    def __init__(self, path: Path, key: str | bytes | None) -> None:
        self.path = path
        self._key: Fernet | None = None
        if key:
            try:
                self._key = Fernet(key)
            except (ValueError, TypeError):
                raise SecretError(
                    "the secret key is not a valid Fernet key (32 url-safe base64 bytes)"
                ) from None

    @property
    def has_key(self) -> bool:
        return self._key is not None

    @property
    def _fernet(self) -> Fernet:
        if self._key is None:
            raise SecretError(f"no secret key: set {KEY_ENV} or secrets.key_file in the config")
        return self._key

    @classmethod
    def from_config(cls, config: SecretsConfig) -> SecretStore:
        key = os.environ.get(KEY_ENV)
        if not key and config.key_file is not None:
            try:
                key = config.key_file.read_text().strip()
            except OSError as exc:
                raise SecretError(f"secrets.key_file {config.key_file}: {exc.strerror}") from None
        return cls(config.store, key or None)

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as exc:
            raise SecretError(f"the secret store {self.path} cannot be read: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SecretError(f"the secret store {self.path} is not a store of secrets")
        return data

    def names(self) -> list[str]:
        return sorted(self._load())

    def check_key(self) -> None:
        """Raise SecretError unless the configured key opens what the store holds (a store
        written with another key would otherwise be mixed with this one's entries)."""
        data = self._load()
        if data and self._key is None:
            raise SecretError(f"no secret key: set {KEY_ENV} or secrets.key_file in the config")
        for name, token in data.items():
            try:
                self._fernet.decrypt(token.encode())
            except InvalidToken:
                raise SecretError(
                    f"the configured key does not open the store {self.path} (secret {name!r} "
                    "was written with another key)"
                ) from None

    def set(self, name: str, value: str) -> None:
        if not name.strip():
            raise SecretError("a secret needs a name")
        if not value:
            raise SecretError(f"secret {name!r}: an empty value is not a secret")
        self.check_key()
        data = self._load()
        data[name] = self._fernet.encrypt(value.encode()).decode()
        write_private(self.path, json.dumps(data, indent=2, sort_keys=True))

    def seal(self, value: str) -> str:
        """Encrypt a small secret that must live elsewhere (a webhook's clientState kept in the
        state topic) with this store's key."""
        return self._fernet.encrypt(value.encode()).decode()

    def unseal(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretError(
                "a sealed value cannot be decrypted with the configured key"
            ) from None

    def get(self, ref: SecretRef | str) -> SecretStr:
        if isinstance(ref, EnvSecret):
            value = os.environ.get(ref.env, "")
            if not value:
                raise SecretError(f"environment variable {ref.env} (a secret reference) is not set")
            return SecretStr(value)
        if isinstance(ref, FileSecret):
            return SecretStr(_read_secret_file(ref.file))
        name = ref.secret if isinstance(ref, StoredSecret) else ref
        fernet = self._fernet  # no key: say so, rather than that the secret is missing
        token = self._load().get(name)
        if token is None:
            raise SecretError(f"secret {name!r} is not in the store {self.path}")
        try:
            return SecretStr(fernet.decrypt(token.encode()).decode())
        except InvalidToken:
            raise SecretError(
                f"secret {name!r} cannot be decrypted with the configured key"
            ) from None
