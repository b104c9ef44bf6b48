"""The image: no engine builds it here, so hadolint lints it and the properties the
deployment relies on are read from the file itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _tool(name: str) -> str:
    """A tool the dev extras install beside the interpreter running the tests."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is missing: `make install` brings it with the dev extras"
    return found


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(w.upper(), rest.strip()) for w, _, rest in (s.strip().partition(" ") for s in logical)]


def stages(text: str) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            found.append([])
        found[-1].append(ins)
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([_tool("hadolint"), str(DOCKERFILE)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_an_unpinned_root_image(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install ml-connector\nUSER root\n")
    result = subprocess.run([_tool("hadolint"), str(bad)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode != 0
    assert {"DL3007", "DL3013", "DL3002"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_multi_stage_pinned_non_root_with_a_healthcheck_and_a_data_volume() -> None:
    builder, runtime = stages(DOCKERFILE.read_text())
    for stage in (builder, runtime):
        image = stage[0][1].split()[0]
        # a patch release on a named Debian release, never a moving tag
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image
    assert builder[0][1].endswith("AS builder")
    copies = [args for op, args in runtime if op == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"], "the runtime gets the venv only"
    [user] = [args for op, args in runtime if op == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    [volume] = [args for op, args in runtime if op == "VOLUME"]
    assert volume == '["/app/data"]'
    setup = " ".join(args for op, args in runtime if op == "RUN")
    assert "chown mlc:mlc /app/data" in setup and "--uid 10001" in setup
    [check] = [args for op, args in runtime if op == "HEALTHCHECK"]
    assert check.endswith('CMD ["python", "-m", "app.healthcheck"]')
    built = " ".join(args for op, args in builder if op == "RUN")
    assert "site-packages/simulators" in built and "site-packages/devkit" in built


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last match wins)."""
    out = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch(p, bare) or fnmatch(p, bare.removeprefix("**/")) for p in prefixes):
            out = not negate
    return out


def test_the_build_context_holds_what_is_copied_and_none_of_the_local_state() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]  # fmt: skip
    for private in (".git", ".venv", ".mlc", "config/secrets.json", "config/ml-connector.yaml",
                    "data/audit.db", "app/__pycache__/cli.cpython-311.pyc", ".pytest_cache",
                    "secret.key"):  # fmt: skip
        assert _ignored(private, patterns), f"{private} would be sent to the builder"
    for op, args in instructions(DOCKERFILE.read_text()):
        if op == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not _ignored(source, patterns), f"the Dockerfile copies ignored {source}"
