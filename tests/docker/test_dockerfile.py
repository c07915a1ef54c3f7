"""docker/Dockerfile and docker/compose.yaml as hospital IT gets them: classic-builder syntax,
non-root, a readiness HEALTHCHECK, dependencies before code, nothing secret; linted and validated
when hadolint or a compose command is installed (`make docker-check` builds and runs the image)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
Instruction = tuple[str, str]


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction: comments dropped, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text("utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def stages() -> list[list[Instruction]]:
    """The instructions of each FROM stage."""
    found: list[list[Instruction]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, args))
    return found


def test_the_base_image_is_a_build_argument_defaulting_to_python_slim() -> None:
    assert instructions()[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    assert [args.split()[0] for kw, args in instructions() if kw == "FROM"] == ["${BASE_IMAGE}"] * 2


def test_only_classic_builder_syntax() -> None:
    text = DOCKERFILE.read_text("utf-8")
    assert not re.search(r"^#\s*(syntax|check)\s*=", text, re.MULTILINE | re.IGNORECASE)
    for keyword, args in instructions():
        assert "<<" not in args, f"heredoc in {keyword}"
        if keyword == "RUN":  # --mount, --network, --security: BuildKit only
            assert not args.startswith("--"), f"BuildKit RUN flag: {args[:40]}"
        if keyword in ("COPY", "ADD"):  # --link, --chmod, --parents, --exclude: BuildKit only
            flags = {a[2:].split("=")[0] for a in args.split() if a.startswith("--")}
            assert flags <= {"from", "chown"}, f"{keyword} {flags}"


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    build = stages()[0]
    deps = next(i for i, (kw, a) in enumerate(build) if kw == "RUN" and "--requirement" in a)
    code = next(i for i, (kw, a) in enumerate(build) if kw == "COPY" and "cds_service" in a)
    assert deps < code
    assert any(kw == "RUN" and "python3 -m venv" in a for kw, a in build[:deps])


def test_the_final_image_runs_as_a_numeric_non_root_user_with_a_readiness_healthcheck() -> None:
    final = stages()[-1]
    users = [args for kw, args in final if kw == "USER"]
    assert users and users[-1].split(":")[0].isdecimal() and users[-1].split(":")[0] != "0"
    (healthcheck,) = [args for kw, args in final if kw == "HEALTHCHECK"]
    assert "healthcheck.py" in healthcheck
    probe = (ROOT / "docker" / "healthcheck.py").read_text("utf-8")
    assert 'DEFAULT_URL = "http://127.0.0.1:8080/health/ready"' in probe
    cmd = next(args for kw, args in reversed(final) if kw == "CMD")
    assert cmd.startswith('["ane-cds", "serve"') and '"8080"' in cmd


def test_no_tests_no_whole_context_and_nothing_secret_in_the_image() -> None:
    for keyword, args in instructions():
        if keyword in ("COPY", "ADD"):
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            assert "." not in sources and not any(s.startswith("tests") for s in sources)
    final_env = " ".join(args for kw, args in stages()[-1] if kw in ("ENV", "ARG"))
    for name in ("CDS_AUTH", "CDS_TRUSTED_ISSUERS", "CDS_DATABASE_URL", "PASSWORD", "TOKEN"):
        assert name not in final_env, f"{name} must come at run time, not from the image"
    assert "build-ca" not in " ".join(args for kw, args in stages()[-1])


def _tool(name: str) -> str | None:
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)


@pytest.mark.skipif(_tool("hadolint") is None, reason="hadolint not installed (make docker-check)")
def test_hadolint_finds_nothing() -> None:
    hadolint = _tool("hadolint")
    assert hadolint is not None
    result = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.skipif(_compose_command() is None, reason="no docker compose command installed")
def test_compose_file_is_valid() -> None:
    command = _compose_command()
    assert command is not None
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_keeps_authentication_on_unless_told_and_uses_its_fhir_server() -> None:
    text = COMPOSE.read_text("utf-8")
    assert "CDS_AUTH: ${CDS_AUTH:-on}" in text
    assert "CDS_FHIR_SERVERS: http://fhir:8080/fhir" in text
    assert "hapiproject/hapi" in text
    assert "ane-cds fixtures load --fhir-base http://fhir:8080/fhir" in text
    assert re.findall(r'"(\S+):\$\{\w+:-\d+\}:8080"', text) == ["127.0.0.1", "127.0.0.1"]
