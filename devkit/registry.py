"""A real Schema Registry for the embedded default: Apicurio Registry from Maven Central.

Apicurio publishes its application as plain jars, not a runnable distribution, so the first
use builds a Quarkus fast-jar from them with a small generated Maven project (about two
minutes and 200 MB of downloads, cached outside the repository; later starts take seconds).
Its Confluent-compatible API (``/apis/ccompat/v7``) is what our Avro codec, and subscribers'
standard deserializers, talk to. BACKWARD compatibility is enforced from the start.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devkit.java import (
    JavaProcess,
    JavaServiceError,
    cache_root,
    free_port,
    java_executable,
    run_maven,
)

log = logging.getLogger(__name__)

APICURIO_VERSION = "2.4.2.Final"
QUARKUS_VERSION = "2.16.4.Final"
CCOMPAT_PATH = "/apis/ccompat/v7"

# Everything from Maven Central: the parent pom also names repositories this network cannot
# reach, and asking them first makes every build wait on timeouts.
_SETTINGS = """<settings><mirrors><mirror><id>central-only</id>
<url>https://repo.maven.apache.org/maven2</url><mirrorOf>*</mirrorOf></mirror></mirrors></settings>
"""

# Three adjustments make the published 2.4.2 jars build: the JSON-schema library it names is
# published only outside Central (the same library is on Central under com.github.erosb), the
# config-index deployment module of the pinned version is missing (0.1.10 is there and works),
# and the app jar carries no Jandex index (so Quarkus is told to index it).
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ml-connector</groupId><artifactId>schema-registry</artifactId>
  <version>{apicurio}</version><packaging>jar</packaging>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencyManagement><dependencies>
    <dependency><groupId>io.quarkus</groupId><artifactId>quarkus-bom</artifactId>
      <version>{quarkus}</version><type>pom</type><scope>import</scope></dependency>
    <dependency><groupId>io.apicurio</groupId>
      <artifactId>apicurio-common-app-components-config-index</artifactId>
      <version>0.1.10.Final</version></dependency>
    <dependency><groupId>io.apicurio</groupId>
      <artifactId>apicurio-common-app-components-config-index-deployment</artifactId>
      <version>0.1.10.Final</version></dependency>
    <dependency><groupId>io.apicurio</groupId>
      <artifactId>apicurio-common-app-components-config-definitions</artifactId>
      <version>0.1.18.Final</version></dependency>
  </dependencies></dependencyManagement>
  <dependencies>
    <dependency><groupId>io.apicurio</groupId><artifactId>apicurio-registry-app</artifactId>
      <version>{apicurio}</version>
      <exclusions><exclusion><groupId>com.github.everit-org.json-schema</groupId>
        <artifactId>org.everit.json.schema</artifactId></exclusion></exclusions></dependency>
    <dependency><groupId>com.github.erosb</groupId><artifactId>everit-json-schema</artifactId>
      <version>1.14.2</version></dependency>
  </dependencies>
  <build><plugins><plugin><groupId>io.quarkus</groupId>
    <artifactId>quarkus-maven-plugin</artifactId><version>{quarkus}</version>
    <executions><execution><goals><goal>build</goal></goals></execution></executions>
  </plugin></plugins></build>
</project>
"""

_PROPERTIES = """quarkus.package.type=fast-jar
quarkus.index-dependency.apicurio-app.group-id=io.apicurio
quarkus.index-dependency.apicurio-app.artifact-id=apicurio-registry-app
"""


def ensure_registry_build(version: str = APICURIO_VERSION) -> Path:
    """The runnable ``quarkus-run.jar``, built on first use."""
    home = cache_root() / f"apicurio-{version}"
    runner = home / "target" / "quarkus-app" / "quarkus-run.jar"
    done = home / ".complete"
    if done.exists() and runner.exists():
        return runner
    resources = home / "src" / "main" / "resources"
    resources.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(_POM.format(apicurio=version, quarkus=QUARKUS_VERSION))
    (home / "settings.xml").write_text(_SETTINGS)
    (resources / "application.properties").write_text(_PROPERTIES)
    log.info("building Apicurio Registry %s from Maven Central into %s (first use only)",
             version, home)  # fmt: skip
    run_maven(home, ["-DskipTests", "package"], f"Apicurio Registry {version}",
              settings=home / "settings.xml")  # fmt: skip
    if not runner.exists():
        raise JavaServiceError(f"the registry build finished without {runner}")
    done.touch()
    return runner


@dataclass
class EmbeddedRegistry:
    port: int = 0
    heap: str = "256m"
    workdir: Path | None = None
    _process: JavaProcess | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """The Confluent-compatible base URL clients are given."""
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    def start(self, timeout: float = 90.0) -> EmbeddedRegistry:
        runner = ensure_registry_build()
        self.workdir = self.workdir or Path(tempfile.mkdtemp(prefix="mlc-registry-"))
        self.port = self.port or free_port()
        command = [
            java_executable(), f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            f"-Dquarkus.http.port={self.port}", "-Dquarkus.http.host=127.0.0.1",
            "-Dregistry.rules.global.compatibility=BACKWARD",
            "-jar", str(runner),
        ]  # fmt: skip
        self._process = JavaProcess(command, self.workdir / "registry.log")
        self._wait_ready(timeout)
        log.info("Schema Registry (Apicurio %s) ready at %s", APICURIO_VERSION, self.url)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None

        def answers() -> bool:
            if httpx.get(f"{self.url}/subjects", timeout=2).status_code != 200:
                return False
            # Confluent registries default to BACKWARD; say so explicitly here too.
            httpx.put(f"{self.url}/config", json={"compatibility": "BACKWARD"}, timeout=5)
            return True

        self._process.wait_ready(answers, timeout, "the registry")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
