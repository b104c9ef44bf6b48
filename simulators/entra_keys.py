"""The key an Entra authority signs its tokens with, and the JWKS document that publishes it.

The discovery document names a ``jwks_uri`` (OpenID Connect Discovery 1.0 requires one), so a
client that validates tokens must find the key that signed them there. One RSA key per process
is enough: the simulators' tokens are only ever judged by the simulator that issued them, and
generating a key per app would slow every test that builds one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_ID = "sim-entra-key-1"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


@lru_cache(maxsize=1)
def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign_jwt(claims: Mapping[str, Any]) -> str:
    """A compact JWS (RS256) over ``claims`` with the published key's ``kid``."""
    header = {"typ": "JWT", "alg": "RS256", "kid": KEY_ID}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = _private_key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def jwks(issuer: str) -> dict[str, Any]:
    """``GET /{tenant}/discovery/v2.0/keys`` as Entra answers it (RFC 7517 key set)."""
    numbers = _private_key().public_key().public_numbers()
    return {
        "keys": [
            {
                "kty": "RSA",
                "use": "sig",
                "kid": KEY_ID,
                "n": _b64url(_int_bytes(numbers.n)),
                "e": _b64url(_int_bytes(numbers.e)),
                "issuer": issuer,
            }
        ]
    }
