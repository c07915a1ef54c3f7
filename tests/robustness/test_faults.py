"""Faults against the real service (gunicorn on 127.0.0.1) that tests/api and tests/integration
do not already cover: a FHIR server whose Bundle pages forever, data of the wrong resource type
(prefetched and fetched), a knowledge file missing or invalid at start, and a worker killed under
load. Each ends in a clear answer, in bounded time, and nothing else fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.run import hook_body, patient_resources
from tests.processes import ANE_CDS, Running, cds_service, free_port
from tests.robustness.fhir_stub import StubFhir, stub_fhir

PAGE_CAP = 5
SEARCH_KEYS = ("observations", "conditions", "medications", "allergies")
PV = "/cds-services/ane-patient-view"


@dataclass(frozen=True)
class Stack:
    fhir: StubFhir
    service: Running


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One stub FHIR server (its behaviour is changed per test) and the service allowed to call it."""
    with stub_fhir(StubFhir(patient_resources(datetime.now(UTC)))) as fhir:
        env = {
            "CDS_FHIR_SERVERS": fhir.base,
            "CDS_FHIR_PAGE_CAP": str(PAGE_CAP),
            "CDS_FHIR_TIMEOUT": "5",
            "CDS_LOG_LEVEL": "WARNING",
        }
        with cds_service(env) as service:
            yield Stack(fhir, service)


@pytest.fixture
def fhir(stack: Stack) -> Iterator[StubFhir]:
    """The stub, well-behaved again and with an empty request log after each test."""
    yield stack.fhir
    stack.fhir.endless_pages = False
    stack.fhir.served_as.clear()
    stack.fhir.paths.clear()


def _post(stack: Stack, body: dict[str, Any], path: str = PV) -> requests.Response:
    return requests.post(stack.service.base + path, json=body, timeout=60)


def _issues(response: requests.Response) -> list[tuple[str, str]]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return [(i["expression"][0], i["details"]["text"]) for i in outcome["issue"]]


# ---------------------------------------------------------------- a Bundle that pages forever


def test_a_search_that_pages_forever_stops_at_the_page_cap_with_412(
    stack: Stack, fhir: StubFhir
) -> None:
    fhir.endless_pages = True
    started = time.monotonic()
    response = _post(stack, hook_body("patient-view", [], prefetch=False, fhir_base=fhir.base))
    assert time.monotonic() - started < 30
    assert response.status_code == 412
    issues = dict(_issues(response))
    assert set(issues) == {f"prefetch.{key}" for key in SEARCH_KEYS}
    assert all("more pages than the page limit" in text for text in issues.values())
    for resource_type in ("Observation", "Condition", "MedicationRequest", "AllergyIntolerance"):
        pages = [p for p in fhir.paths if p.startswith(f"/fhir/{resource_type}?")]
        assert len(pages) == PAGE_CAP, resource_type


def test_a_prefetched_bundle_whose_next_pages_never_end_is_412(
    stack: Stack, fhir: StubFhir
) -> None:
    fhir.endless_pages = True
    body = hook_body("patient-view", patient_resources(datetime.now(UTC)), fhir_base=fhir.base)
    body["prefetch"]["observations"]["link"] = [
        {"relation": "next", "url": f"{fhir.base}/Observation?page=2"}
    ]
    response = _post(stack, body)
    assert response.status_code == 412
    assert _issues(response) == [
        ("prefetch.observations", "the search result has more pages than the page limit")
    ]
    assert len(fhir.paths) == PAGE_CAP - 1  # the prefetched Bundle was the first page


# ---------------------------------------------------------------- the wrong resource type


def test_a_prefetched_resource_of_the_wrong_type_is_400(stack: Stack, fhir: StubFhir) -> None:
    resources = patient_resources(datetime.now(UTC))
    body = hook_body("order-sign", resources)
    observation = next(r for r in resources if r["resourceType"] == "Observation")
    condition = next(r for r in resources if r["resourceType"] == "Condition")
    body["prefetch"]["patient"] = observation
    body["prefetch"]["conditions"]["entry"].insert(0, {"resource": observation})
    body["prefetch"]["observations"] = condition
    response = _post(stack, body, "/cds-services/ane-order-sign")
    assert response.status_code == 400
    paths = [path for path, _ in _issues(response)]
    assert paths[0] in {
        "prefetch.patient.resourceType",
        "prefetch.conditions.entry[0].resource.resourceType",
        "prefetch.observations.resourceType",
    }
    assert fhir.paths == []  # refused before any fetch


def test_a_fhir_server_answering_the_wrong_type_gives_412(stack: Stack, fhir: StubFhir) -> None:
    fhir.served_as.update(Observation="Condition", Patient="Observation")
    response = _post(stack, hook_body("patient-view", [], prefetch=False, fhir_base=fhir.base))
    assert response.status_code == 412
    issues = dict(_issues(response))
    assert issues["prefetch.patient (fetched)[0].resourceType"] == "expected a Patient"
    assert issues["prefetch.observations (fetched)[0].resourceType"] == "expected a Observation"


# ---------------------------------------------------------------- knowledge file at start


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read knowledge file"),
        ("[meta]\nversion = 1\n", "is invalid"),
        ("not = [toml", "is not valid TOML"),
    ],
    ids=["missing", "invalid", "not TOML"],
)
def test_the_service_refuses_to_start_without_a_usable_knowledge_file(
    tmp_path: Path, content: str | None, says: str
) -> None:
    knowledge = tmp_path / "ane.toml"
    if content is not None:
        knowledge.write_text(content)
    env = {
        **os.environ,
        "CDS_AUTH": "off",
        "CDS_DATA_DIR": str(tmp_path),
        "CDS_KNOWLEDGE_FILE": str(knowledge),
    }
    port = free_port()
    started = subprocess.run(
        [str(ANE_CDS), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 2
    assert (
        f"ane-cds: cannot start: {'' if content is None else 'knowledge file '}" in started.stderr
    )
    assert says in started.stderr and str(knowledge) in started.stderr
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health/live", timeout=2)


# ---------------------------------------------------------------- a worker killed under load


def _workers(master: int) -> set[int]:
    """Pids of the gunicorn workers: the live children of the master."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == master and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _wait_for_workers(master: int, count: int, seconds: float = 30) -> set[int]:
    """The workers once there are `count` of them (or whatever there is after `seconds`)."""
    deadline = time.monotonic() + seconds
    while len(found := _workers(master)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@dataclass(frozen=True)
class Call:
    client: int
    started: float
    ended: float
    error: str | None


def test_a_worker_killed_under_load_is_replaced_and_only_in_flight_calls_fail(
    tmp_path: Path,
) -> None:
    concurrency, calls = 8, 480
    payload = json.dumps(hook_body("patient-view", patient_resources(datetime.now(UTC))))
    local = threading.local()
    done: list[Call] = []
    lock = threading.Lock()

    def call(_: int) -> None:
        session: requests.Session = local.__dict__.setdefault("session", requests.Session())
        started, error = time.monotonic(), None
        try:
            answer = session.post(
                url, data=payload, headers={"Content-Type": "application/json"}, timeout=30
            )
            if answer.status_code != 200:
                error = f"HTTP {answer.status_code}"
        except requests.RequestException as failure:
            error = type(failure).__name__
        with lock:
            done.append(Call(threading.get_ident(), started, time.monotonic(), error))

    env = {"CDS_LOG_LEVEL": "WARNING", "CDS_DATA_DIR": str(tmp_path)}
    with cds_service(env, workers=2, threads=4) as service:
        url = service.base + PV
        master = service.process.pid
        before = _wait_for_workers(master, 2)
        assert len(before) == 2
        with ThreadPoolExecutor(concurrency) as pool:
            running = pool.map(call, range(calls))
            while len(done) < calls // 4:
                time.sleep(0.01)
            victim = min(before)
            os.kill(victim, signal.SIGKILL)
            while not _gone(victim):
                time.sleep(0.001)
            dead_at = time.monotonic()
            list(running)
        after = _wait_for_workers(master, 2)
        ready = requests.get(service.base + "/health/ready", timeout=10)
    failed = [c for c in done if c.error is not None]
    assert len(done) == calls
    assert len(after) == 2 and victim not in after and len(after - before) == 1
    assert ready.status_code == 200
    assert len(failed) <= concurrency, failed
    assert len({c.client for c in failed}) == len(failed), "a client saw two calls fail"
    assert all(c.started < dead_at for c in failed), "a call sent after the kill failed"
    assert sum(c.started > dead_at for c in done) > calls // 4  # the load went on after it
