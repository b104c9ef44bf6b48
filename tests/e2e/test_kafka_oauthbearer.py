"""The pipeline on a cluster that takes OAUTHBEARER tokens, as clusters behind an identity
provider do.

An Entra tenant (the simulator's token endpoint and key set) issues the tokens; a private
broker's SASL_SSL listener validates them with Kafka's own ``OAuthBearerValidatorCallbackHandler``
against that key set and the expected audience. Producers and sinks (librdkafka's ``oidc``
method) and the processors (Faust on aiokafka, ``processors/credentials.py``) each fetch their
own token by the client-credentials grant: a vendor crossing from Business Central to
ServiceNow shows that all three were let in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.embedded import EmbeddedBroker, OAuthValidation, SaslUsers
from simulators import business_central
from simulators.business_central.app import BC_SCOPE
from simulators.server import serve_in_thread
from tests.e2e.conftest import vendors_cross_a_secured_cluster

pytestmark = pytest.mark.kafka

TENANT = "sim-tenant"
CLIENT = ("kafka-client", "kafka-oauth-secret-2718")
VENDORS = 8


@dataclass(frozen=True)
class Cluster:
    broker: EmbeddedBroker
    token_url: str


@pytest.fixture(scope="module")
def oauth_cluster() -> Iterator[Cluster]:
    idp = business_central.create_app(
        business_central.BusinessCentralOptions(client_id=CLIENT[0], client_secret=CLIENT[1])
    )
    url, stop = serve_in_thread(idp)
    audience = BC_SCOPE.removesuffix("/.default")
    validation = OAuthValidation(f"{url}/{TENANT}/discovery/v2.0/keys", audience)
    broker = EmbeddedBroker(sasl=SaslUsers({"admin": "admin-pw"}, oauth=validation))
    broker.start(timeout=120)
    try:
        yield Cluster(broker, f"{url}/{TENANT}/oauth2/v2.0/token")
    finally:
        broker.stop()
        stop()


def _security(cluster: Cluster) -> dict[str, Any]:
    return {
        "protocol": "SASL_SSL",
        "tls": {"ca_file": str(cluster.broker.tls_ca)},
        "sasl": {"mechanism": "OAUTHBEARER", "token_url": cluster.token_url,
                 "client_id": CLIENT[0], "client_secret": {"secret": "kafka-client-secret"},
                 "scope": BC_SCOPE},
    }  # fmt: skip


def test_pipeline_runs_end_to_end_with_oauthbearer_tokens(
    pipeline_factory: Callable[..., Any], oauth_cluster: Cluster
) -> None:
    p = pipeline_factory(
        broker=oauth_cluster.broker.sasl_bootstrap_servers,
        vendors=VENDORS,
        poll_interval=1.0,
        kafka_config={"security": _security(oauth_cluster)},
        extra_secrets={"kafka-client-secret": CLIENT[1]},
        run=False,
    )
    vendors_cross_a_secured_cluster(p, VENDORS, CLIENT[1])


def _ping(tmp_path: Path, cluster: Cluster, secret: str) -> subprocess.CompletedProcess[str]:
    """``ping`` of Kafka alone, as an operator runs it, the client secret in its environment."""
    kafka_security = _security(cluster)
    kafka_security["sasl"]["client_secret"] = {"env": "MLC_TEST_KAFKA_CLIENT_SECRET"}
    config = {
        "kafka": {"bootstrap_servers": cluster.broker.sasl_bootstrap_servers,
                  "security": kafka_security, "encoding": "single-object",
                  "topic_prefix": "oauthping"},
        "secrets": {"store": str(tmp_path / "secrets.json")},
    }  # fmt: skip
    path = tmp_path / "oauth.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "MLC_TEST_KAFKA_CLIENT_SECRET": secret, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "app", "ping", "-c", str(path)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_a_token_the_identity_provider_refuses_is_named_by_ping(
    tmp_path: Path, oauth_cluster: Cluster
) -> None:
    right = _ping(tmp_path, oauth_cluster, CLIENT[1])
    assert right.returncode == 0, right.stdout + right.stderr
    wrong = _ping(tmp_path, oauth_cluster, "not-the-client-secret")
    said = wrong.stdout + wrong.stderr
    assert wrong.returncode == 1, said
    assert "kafka" in said and "invalid_client" in said and "Traceback" not in said, said
    assert "not-the-client-secret" not in said and CLIENT[1] not in said, said
