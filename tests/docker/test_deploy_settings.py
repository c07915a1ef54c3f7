"""Deployment settings: forwarded headers only from configured proxies; gunicorn from CDS_*."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask, request

from cds_service import cli, create_app
from cds_service.config import (
    ConfigError,
    available_cpus,
    serve_settings_from_env,
    settings_from_env,
)
from tests.builders import REFERENCE
from tests.conftest import settings_for_tests

FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "cds.hospital.example",
}


def _echo_app(tmp_path: Path, proxies: int) -> Flask:
    settings = settings_for_tests(data_dir=tmp_path, trusted_proxies=proxies)
    app = create_app(settings, clock=lambda: REFERENCE)

    @app.get("/echo")
    def echo() -> dict[str, str | None]:
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return app


def test_forwarded_headers_are_ignored_by_default(tmp_path: Path) -> None:
    seen = _echo_app(tmp_path, 0).test_client().get("/echo", headers=FORWARDED).get_json()
    assert seen == {"addr": "127.0.0.1", "scheme": "http", "host": "localhost"}


def test_forwarded_headers_are_honoured_from_the_configured_proxy(tmp_path: Path) -> None:
    seen = _echo_app(tmp_path, 1).test_client().get("/echo", headers=FORWARDED).get_json()
    assert seen == {"addr": "203.0.113.7", "scheme": "https", "host": "cds.hospital.example"}


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 0), ("0", 0), ("2", 2), ("-1", None), ("one", None), ("", None)]
)
def test_trusted_proxies_setting(raw: str | None, expected: int | None) -> None:
    env = {"CDS_AUTH": "off"} | ({} if raw is None else {"CDS_TRUSTED_PROXIES": raw})
    if expected is None:
        with pytest.raises(ConfigError, match="CDS_TRUSTED_PROXIES"):
            settings_from_env(env)
    else:
        assert settings_from_env(env).trusted_proxies == expected


def test_serve_settings_default_and_from_env() -> None:
    defaults = serve_settings_from_env({}, cpus=2)
    assert (defaults.workers, defaults.threads, defaults.timeout_s) == (4, 2, 30)
    assert serve_settings_from_env({}, cpus=64).workers == 16  # capped: memory
    assert serve_settings_from_env({"CDS_WORKERS": "", "CDS_THREADS": ""}, cpus=1).workers == 2
    env = {"CDS_WORKERS": "3", "CDS_THREADS": "1", "CDS_TIMEOUT": "60", "CDS_KEEPALIVE": "0"}
    chosen = serve_settings_from_env(env)
    assert (chosen.workers, chosen.threads, chosen.timeout_s, chosen.keepalive_s) == (3, 1, 60, 0)


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [
        pytest.param("max 100000\n", None, id="no-quota-affinity-decides"),
        pytest.param("150000 100000\n", 2, id="1.5-cpus-round-up"),
        pytest.param("50000 100000\n", 1, id="half-a-cpu-is-one"),
        pytest.param("garbage", None, id="unreadable-affinity-decides"),
    ],
)
def test_available_cpus_follow_a_cgroup_quota(
    tmp_path: Path, cpu_max: str, cpus: int | None
) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    assert available_cpus(path) == (affinity if cpus is None else min(cpus, affinity))
    assert available_cpus(tmp_path / "absent") == affinity


@pytest.mark.parametrize("name", ["CDS_WORKERS", "CDS_THREADS", "CDS_TIMEOUT"])
@pytest.mark.parametrize("raw", ["0", "2.5", "many"])
def test_serve_settings_refuse_nonsense(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        serve_settings_from_env({name: raw})


class _FakeGunicorn:
    options: ClassVar[dict[str, Any]] = {}

    def __init__(self, options: dict[str, Any]) -> None:
        _FakeGunicorn.options = options

    def run(self) -> None:
        return None


@pytest.fixture
def gunicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[_FakeGunicorn]:
    """`ane-cds serve` with gunicorn replaced by a recorder of its options."""
    monkeypatch.setattr(cli, "_Gunicorn", _FakeGunicorn)
    monkeypatch.setenv("CDS_AUTH", "off")
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path))
    _FakeGunicorn.options = {}
    return _FakeGunicorn


def test_serve_takes_workers_threads_and_timeouts_from_env(
    gunicorn: type[_FakeGunicorn], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_WORKERS", "3")
    monkeypatch.setenv("CDS_THREADS", "8")
    monkeypatch.setenv("CDS_TIMEOUT", "45")
    monkeypatch.setenv("CDS_GRACEFUL_TIMEOUT", "20")
    monkeypatch.setenv("CDS_KEEPALIVE", "75")
    assert cli.main(["serve", "--port", "1"]) == 0
    options = gunicorn.options
    assert (options["workers"], options["threads"], options["timeout"]) == (3, 8, 45)
    assert (options["graceful_timeout"], options["keepalive"]) == (20, 75)
    assert options["control_socket_disable"] is True  # gunicorn 27 as a user with no home
    assert options["forwarded_allow_ips"] == ""  # gunicorn trusts no proxy; ProxyFix decides


def test_serve_command_line_wins_over_env(
    gunicorn: type[_FakeGunicorn], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_WORKERS", "3")
    assert cli.main(["serve", "--port", "1", "--workers", "5", "--timeout", "9"]) == 0
    assert (gunicorn.options["workers"], gunicorn.options["timeout"]) == (5, 9)


def test_serve_refuses_to_start_with_a_bad_worker_count(
    gunicorn: type[_FakeGunicorn],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CDS_WORKERS", "0")
    assert cli.main(["serve", "--port", "1"]) == 2
    assert "CDS_WORKERS" in capsys.readouterr().err
