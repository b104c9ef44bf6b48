"""A real Apache Kafka broker started from the Maven Central jars (KRaft, combined mode).

Used when no bootstrap server is configured and no Docker engine answers. The jars are fetched
once by Maven into a cache outside the repository; each start formats a fresh temporary log dir
on free loopback ports, so runs never share state by accident.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from devkit.java import (
    JavaProcess,
    JavaServiceError,
    cache_root,
    free_port,
    java_executable,
    run_maven,
)
from simulators.tls import self_signed

log = logging.getLogger(__name__)

KAFKA_VERSION = os.environ.get("MLC_KAFKA_VERSION", "3.9.2")
# The broker ships no logging backend; the release tarball adds these two.
_LOGGING_JARS = (
    ("org.slf4j", "slf4j-reload4j", "1.7.36"),
    ("ch.qos.reload4j", "reload4j", "1.2.25"),
)


# PLAIN first: its JAAS line also names the listener's own login.
_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class BrokerStartError(JavaServiceError):
    """The embedded broker could not be fetched or started; the message says why."""


def _pom(version: str) -> str:
    deps = [("org.apache.kafka", "kafka_2.13", version), *_LOGGING_JARS]
    body = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>"
        "</dependency>"
        for g, a, v in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>ml-connector</groupId><artifactId>kafka-runtime</artifactId>"
        f"<version>{version}</version><packaging>pom</packaging>"
        f"<dependencies>{body}</dependencies></project>\n"
    )


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Return the folder of broker jars, fetching them with Maven on first use."""
    home = cache_root() / f"kafka-{version}"
    lib = home / "lib"
    done = home / ".complete"
    if done.exists():
        return lib
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(_pom(version))
    log.info("fetching Apache Kafka %s jars into %s", version, lib)
    try:
        run_maven(home, ["dependency:copy-dependencies", "-DincludeScope=runtime",
                         f"-DoutputDirectory={lib}"], f"Kafka {version}")  # fmt: skip
    except JavaServiceError as exc:
        raise BrokerStartError(str(exc)) from None
    done.touch()
    return lib


def _cluster_id() -> str:
    """A base64url UUID, as Kafka's own tool makes them: never starting with '-', which the
    storage tool's argument parser would take for an option (Kafka's Uuid avoids it too)."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):
            return value


_LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={path}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
"""


@dataclass(frozen=True)
class OAuthValidation:
    """OAUTHBEARER on the SASL_SSL listener: tokens are JWTs checked against the issuer's key
    set (Kafka's own ``OAuthBearerValidatorCallbackHandler``) and the expected audience."""

    jwks_url: str
    audience: str


@dataclass(frozen=True)
class SaslUsers:
    """A SASL_SSL listener beside the plain one, with these users for PLAIN and SCRAM-SHA-256
    and SCRAM-SHA-512 (the same password for each mechanism), and OAUTHBEARER with ``oauth``."""

    users: dict[str, str]
    oauth: OAuthValidation | None = None


@dataclass
class EmbeddedBroker:
    """One single-node KRaft broker; use as a context manager or call start()/stop().

    With ``sasl``, a second listener speaks SASL_SSL with a self-signed certificate
    (``tls_ca`` is the file clients trust); the PLAINTEXT listener stays for the broker's own
    traffic and for tools that inspect it.
    """

    version: str = KAFKA_VERSION
    heap: str = "768m"
    port: int = 0
    controller_port: int = 0
    workdir: Path | None = None
    sasl: SaslUsers | None = None
    sasl_port: int = 0
    tls_ca: Path | None = None
    _process: JavaProcess | None = field(default=None, init=False, repr=False)
    _own_workdir: bool = field(default=False, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap_servers(self) -> str:
        if self.sasl is None:
            raise ValueError("this broker has no SASL_SSL listener")
        return f"127.0.0.1:{self.sasl_port}"

    def _sasl_props(self) -> dict[str, str]:
        """The SASL_SSL listener: PEM key store, PLAIN users inline, SCRAM users formatted in."""
        assert self.workdir is not None and self.sasl is not None
        tls = self_signed(self.workdir / "tls")
        self.tls_ca = Path(tls.cert_path)
        keystore = self.workdir / "tls" / "keystore.pem"
        keystore.write_text(Path(tls.key_path).read_text() + Path(tls.cert_path).read_text())
        users = " ".join(f'user_{u}="{p}"' for u, p in self.sasl.users.items())
        admin, password = next(iter(self.sasl.users.items()))
        prefix = "listener.name.sasl_ssl"
        oauth = self.sasl.oauth
        mechanisms = (*_MECHANISMS, "OAUTHBEARER") if oauth else _MECHANISMS
        return {
            **(self._oauth_props(prefix, oauth) if oauth else {}),
            f"{prefix}.ssl.keystore.type": "PEM",
            f"{prefix}.ssl.keystore.location": str(keystore),
            f"{prefix}.sasl.enabled.mechanisms": ",".join(mechanisms),
            f"{prefix}.plain.sasl.jaas.config": "org.apache.kafka.common.security.plain."
            f'PlainLoginModule required username="{admin}" password="{password}" {users};',
            **{
                f"{prefix}.{m.lower()}.sasl.jaas.config": "org.apache.kafka.common.security."
                "scram.ScramLoginModule required;"
                for m in _MECHANISMS[1:]
            },
        }

    @staticmethod
    def _oauth_props(prefix: str, oauth: OAuthValidation) -> dict[str, str]:
        module = "org.apache.kafka.common.security.oauthbearer"
        return {
            f"{prefix}.oauthbearer.sasl.jaas.config": f"{module}.OAuthBearerLoginModule required ;",
            f"{prefix}.oauthbearer.sasl.server.callback.handler.class":
                f"{module}.OAuthBearerValidatorCallbackHandler",
            "sasl.oauthbearer.jwks.endpoint.url": oauth.jwks_url,
            "sasl.oauthbearer.expected.audience": oauth.audience,
        }  # fmt: skip

    def _scram_users(self) -> list[str]:
        assert self.sasl is not None
        return [
            arg
            for user, password in self.sasl.users.items()
            for m in _MECHANISMS[1:]
            for arg in ("--add-scram", f"{m}=[name={user},password={password}]")
        ]

    def _write_config(self, controller_port: int) -> Path:
        assert self.workdir is not None
        listeners = f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller_port}"
        advertised = f"PLAINTEXT://127.0.0.1:{self.port}"
        protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        extra: dict[str, str] = {}
        if self.sasl is not None:
            listeners += f",SASL_SSL://127.0.0.1:{self.sasl_port}"
            advertised += f",SASL_SSL://127.0.0.1:{self.sasl_port}"
            protocols += ",SASL_SSL:SASL_SSL"
            extra = self._sasl_props()
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": listeners,
            "advertised.listeners": advertised,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": protocols,
            **extra,
            "log.dirs": str(self.workdir / "data"),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            # Compacted state topics must compact on a laptop-sized heap too.
            "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        }
        path = self.workdir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.workdir / "log4j.properties").write_text(
            _LOG4J.format(path=self.workdir / "broker.log")
        )
        return path

    def _java(self, *args: str) -> list[str]:
        lib = ensure_jars(self.version)
        assert self.workdir is not None
        return [
            java_executable(), f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            "-cp", f"{lib}/*", *args,
        ]  # fmt: skip

    def start(self, timeout: float = 60.0) -> EmbeddedBroker:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="mlc-kafka-"))
            self._own_workdir = True
        first_start = not (self.workdir / "data" / "meta.properties").exists()
        # Ports are kept across restarts: clients reconnect to the address they know.
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        if self.sasl is not None:
            self.sasl_port = self.sasl_port or free_port()
        config = self._write_config(self.controller_port)
        if first_start:
            scram = self._scram_users() if self.sasl is not None else []
            fmt = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "-t", _cluster_id(),
                           "-c", str(config), "-g", *scram),
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if fmt.returncode != 0:
                raise BrokerStartError(f"formatting the log dir failed:\n{fmt.stdout}{fmt.stderr}")
        self._process = JavaProcess(
            self._java("kafka.Kafka", str(config)), self.workdir / "broker.out"
        )
        self._wait_ready(timeout)
        log.info("Kafka %s ready at %s", self.version, self.bootstrap_servers)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Ready means the admin API lists this broker; an open port is not enough."""
        # log_level 0: connection refusals while the broker boots are expected, not news.
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        assert self._process is not None
        try:
            self._process.wait_ready(
                lambda: bool(admin.list_topics(timeout=2).brokers), timeout, "the broker",
                BrokerStartError,
            )  # fmt: skip
        except BrokerStartError:
            self.stop()
            raise

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), keeping the log dir so start() can bring it back."""
        if self._process is not None:
            self._process.kill()
            self._process = None

    def stop(self, remove: bool = True) -> None:
        if self._process is not None:
            self._process.stop()
        self._process = None
        if remove and self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
