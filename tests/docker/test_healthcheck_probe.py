"""docker/healthcheck.py, the image's HEALTHCHECK, against the real app on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from cds_service import create_app
from tests.builders import REFERENCE
from tests.conftest import settings_for_tests
from tests.processes import free_port

PROBE = Path(__file__).resolve().parents[2] / "docker" / "healthcheck.py"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The app under a real HTTP server; its base URL and its data folder."""
    data_dir = tmp_path / "data"
    app = create_app(settings_for_tests(data_dir=data_dir), clock=lambda: REFERENCE)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", data_dir
    finally:
        server.shutdown()
        thread.join(timeout=5)


def probe(*args: str, env: dict[str, str] | None = None) -> int:
    result = subprocess.run(
        [sys.executable, str(PROBE), *args], capture_output=True, timeout=30, env=env, check=False
    )
    return result.returncode


def test_ready_service_passes(served: tuple[str, Path]) -> None:
    base, _ = served
    assert probe(f"{base}/health/ready") == 0


def test_default_url_can_be_moved_by_cds_health_url(served: tuple[str, Path]) -> None:
    base, _ = served
    assert probe(env={"CDS_HEALTH_URL": f"{base}/health/live"}) == 0


def test_not_ready_service_fails(served: tuple[str, Path]) -> None:
    base, data_dir = served
    data_dir.rename(data_dir.with_name("moved"))
    assert probe(f"{base}/health/ready") == 1


def test_nothing_listening_fails_and_wait_gives_up() -> None:
    assert probe("--wait", "0.5", f"http://127.0.0.1:{free_port()}/health/ready") == 1
