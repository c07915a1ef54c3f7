"""The ane-cds command: example requests shifted to now, and a refused start."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cds_service.cli import YOUNG_COLLECTION_EVERY, _Gunicorn, main
from cds_service.fixtures import load_case, shift_times


def test_shift_times_moves_datetimes_and_dates_only() -> None:
    value = {"a": "2026-11-21T02:00:00Z", "b": ["2020-01-31"], "c": "2026-11", "d": "text", "e": 3}
    moved = shift_times(value, timedelta(days=2, hours=3))
    assert moved == {
        "a": "2026-11-23T05:00:00Z",
        "b": ["2020-02-02"],
        "c": "2026-11",
        "d": "text",
        "e": 3,
    }


def test_example_prints_the_case_request_at_now(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["example", "e3-order-select"]) == 0
    printed = json.loads(capsys.readouterr().out)
    case = load_case("e3-order-select")
    assert printed["hookInstance"] == case["request"]["hookInstance"]
    weight = printed["prefetch"]["observations"]["entry"][0]["resource"]
    taken = datetime.fromisoformat(weight["effectiveDateTime"])
    assert timedelta(hours=19) < datetime.now(UTC) - taken < timedelta(hours=21)


def test_example_of_unknown_case_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["example", "nope"]) == 2
    assert "e1-patient-view" in capsys.readouterr().err


def test_serve_refuses_to_start_with_an_invalid_knowledge_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "ane.toml"
    broken.write_text("[meta]\nversion = 1\n")
    monkeypatch.setenv("CDS_KNOWLEDGE_FILE", str(broken))
    monkeypatch.setenv("CDS_AUTH", "off")
    assert main(["serve", "--port", "1"]) == 2
    assert "knowledge file" in capsys.readouterr().err


def test_serve_refuses_to_start_with_an_invalid_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_FHIR_TIMEOUT", "soon")
    assert main(["serve", "--port", "1"]) == 2
    assert "CDS_FHIR_TIMEOUT" in capsys.readouterr().err


def test_serve_refuses_to_start_with_authentication_on_but_no_issuers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CDS_AUTH", raising=False)
    monkeypatch.delenv("CDS_TRUSTED_ISSUERS", raising=False)
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "CDS_TRUSTED_ISSUERS" in err and "CDS_AUTH=off" in err


def test_a_worker_freezes_what_it_built_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_AUTH", "off")
    monkeypatch.setenv("CDS_DATA_DIR", str(tmp_path))
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        app = _Gunicorn({"bind": "127.0.0.1:1"}).load()
        assert app.name == "cds_service"
        # modules, knowledge, FHIR and pydantic schemas: tens of thousands of long-lived objects
        assert gc.get_freeze_count() > 20_000
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
