"""The processors' Kafka credentials for Faust (aiokafka), from the same settings that
configure every confluent-kafka client (``ml_connector.kafka.security``)."""

from __future__ import annotations

import time
from typing import Any

import faust
import httpx
from aiokafka.abc import AbstractTokenProvider

from ml_connector import kafka_security as security


class ClientCredentialsToken(AbstractTokenProvider):
    """OAUTHBEARER tokens by the client-credentials grant, as librdkafka's ``oidc`` method
    gets them, renewed a minute before they expire."""

    def __init__(self, sasl: security.KafkaSasl, secret: str) -> None:
        self._sasl = sasl
        self._secret = secret
        self._token = ""
        self._until = 0.0

    async def token(self) -> str:
        if time.monotonic() < self._until:
            return self._token
        form = {"grant_type": "client_credentials", "client_id": str(self._sasl.client_id),
                "client_secret": self._secret}  # fmt: skip
        if self._sasl.scope:
            form["scope"] = self._sasl.scope
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(str(self._sasl.token_url), data=form)
        if answer.status_code != 200:
            # The body may echo the request; the status and the URL are enough to act on.
            raise security.AccessError(
                f"kafka.security.sasl: the token endpoint {self._sasl.token_url} answered "
                f"{answer.status_code}"
            )
        body = answer.json()
        self._token = str(body["access_token"])
        self._until = time.monotonic() + max(0.0, float(body.get("expires_in", 300)) - 60)
        return self._token


def faust_credentials() -> Any:
    """Faust's credentials for this process's Kafka access, or None for PLAINTEXT."""
    access = security.current()
    configured = access.security
    if configured.protocol == "PLAINTEXT":
        return None
    if configured.protocol == "SSL":
        return faust.SSLCredentials(access.context)
    sasl = configured.sasl
    assert sasl is not None  # the model requires it with a SASL protocol
    if sasl.mechanism == "OAUTHBEARER":
        secret = access.properties["sasl.oauthbearer.client.secret"]
        return faust.OAuthCredentials(
            oauth_cb=ClientCredentialsToken(sasl, secret), ssl_context=access.context
        )
    assert access.sasl_password is not None
    return faust.SASLCredentials(
        username=sasl.username,
        password=access.sasl_password.get_secret_value(),
        mechanism=sasl.mechanism,
        ssl_context=access.context,
    )
