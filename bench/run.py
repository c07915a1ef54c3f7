"""`make bench`: each hook next to a floor route in the same real gunicorn, measured in one run.

Prints a Markdown table: latency p50/p95/p99 and throughput at concurrency 1 and 8 for each hook
(full prefetch, the fixture patient with the most data) and for the floor route that only parses
the same request and returns a JSON body as large as the hook's answer; the ratio hook/floor;
time to first answer after start; resident memory per worker after 10,000 requests; and the
FHIR-fetch path against a FHIR server that delays every answer by 100 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from cds_service.config import available_cpus, serve_settings_from_env
from cds_service.fixtures import bundle_resources, patient_bundle, patient_manifest, shift_to
from cds_service.sandbox.loader import load_patients
from cds_service.sandbox.simulator import draft_order

ROOT = Path(__file__).resolve().parents[1]

ANE_CDS = Path(sys.executable).parent / "ane-cds"
PATIENT = "ane-treatment-response"  # the fixture patient with the most data (230 Observations)
FHIR_TOKEN = "bench-token"
KEYS = {
    "Patient": "patient",
    "Observation": "observations",
    "Condition": "conditions",
    "MedicationRequest": "medications",
    "AllergyIntolerance": "allergies",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def process(
    command: list[str], env: dict[str, str], cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, stopped (with its whole group) when the block ends."""
    proc = subprocess.Popen(
        command,
        env={**os.environ, **env},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=35)  # gunicorn gives its workers 30 s to finish
            except subprocess.TimeoutExpired:
                print(f"{command[0]} did not stop on SIGTERM: killed", file=sys.stderr)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


def wait_for(url: str, seconds: float = 30, **kwargs: Any) -> float:
    """Poll until `url` answers 200; return the seconds it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        try:
            method = "POST" if "json" in kwargs else "GET"
            if requests.request(method, url, timeout=5, **kwargs).status_code == 200:  # noqa: PLR2004
                return time.perf_counter() - started
        except requests.RequestException:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


# ---------------------------------------------------------------- requests


def patient_resources(now: datetime) -> list[dict[str, Any]]:
    manifest = patient_manifest()
    entry = next(p for p in manifest["patients"] if p["id"] == PATIENT)
    return bundle_resources(shift_to(patient_bundle(entry), manifest["referenceInstant"], now))


def hook_body(
    hook: str, resources: list[dict[str, Any]], prefetch: bool = True, fhir_base: str | None = None
) -> dict[str, Any]:
    """A hook request for the data-rich patient: full prefetch, or none with a FHIR server."""
    context: dict[str, Any] = {"userId": "Practitioner/bench", "patientId": PATIENT}
    if hook != "patient-view":
        drafts = [
            draft_order(PATIENT, "mp", 480, "24h", "draft-mp"),
            draft_order(PATIENT, "tcz", 192, "once", "draft-tcz"),
        ]
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts],
        }
        if hook == "order-select":
            context["selections"] = ["MedicationRequest/draft-mp"]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "0c8f5a36-8a8e-4f7e-9d15-6f1f0e2b7a11",
        "context": context,
    }
    if prefetch:
        grouped: dict[str, list[dict[str, Any]]] = {key: [] for key in KEYS.values()}
        for resource in resources:
            grouped[KEYS[resource["resourceType"]]].append(resource)
        body["prefetch"] = {
            key: {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": r} for r in items],
            }
            for key, items in grouped.items()
            if key != "patient"
        }
        body["prefetch"]["patient"] = grouped["patient"][0]
    if fhir_base:
        body["fhirServer"] = fhir_base
        body["fhirAuthorization"] = {
            "access_token": FHIR_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "bench",
        }
    return body


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Run:
    latencies_ms: list[float]
    seconds: float

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds


def measure(url: str, payload: bytes, count: int, concurrency: int) -> Run:
    """POST `payload` `count` times with `concurrency` clients; every answer must be 200."""
    sessions = [requests.Session() for _ in range(concurrency)]
    headers = {"Content-Type": "application/json"}

    def one(i: int) -> float:
        started = time.perf_counter()
        response = sessions[i % concurrency].post(url, data=payload, headers=headers, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:  # noqa: PLR2004
            raise RuntimeError(f"{url} answered {response.status_code}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(count)))
    return Run(latencies, time.perf_counter() - started)


def interleaved(
    hook_url: str, floor_url: str, payload: bytes, count: int, concurrency: int, *, rounds: int = 4
) -> tuple[Run, Run]:
    """Hook and floor measured in alternating rounds, so that machine noise hits both."""
    hook: list[Run] = []
    floor: list[Run] = []
    for _ in range(rounds):
        hook.append(measure(hook_url, payload, count // rounds, concurrency))
        floor.append(measure(floor_url, payload, count // rounds, concurrency))
    return _merge(hook), _merge(floor)


def _merge(runs: list[Run]) -> Run:
    return Run([x for r in runs for x in r.latencies_ms], sum(r.seconds for r in runs))


def worker_rss_by_pid(master: int) -> dict[int, float]:
    """Resident memory of each gunicorn worker (children of the master), in MB, by pid."""
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True, check=False
    ).stdout.split()
    sizes = {}
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        sizes[int(pid)] = kb / 1024
    return sizes


def worker_rss_mb(master: int) -> list[float]:
    """Resident memory of each gunicorn worker, in MB, smallest first."""
    return sorted(worker_rss_by_pid(master).values())


# ---------------------------------------------------------------- the benchmark


def service(port: int, env: dict[str, str]) -> list[str]:
    """`ane-cds serve` as deployed: gunicorn sized by its defaults (or CDS_WORKERS/CDS_THREADS)."""
    return [str(ANE_CDS), "serve", "--host", "127.0.0.1", "--port", str(port)]


def sizing() -> str:
    """The gunicorn sizing `service` gets on this machine."""
    served = serve_settings_from_env()
    return f"{served.workers} workers x {served.threads} threads"


def bench(quick: bool) -> list[str]:
    now = datetime.now(UTC)
    resources = patient_resources(now)
    count = 80 if quick else 2000
    memory_requests = 400 if quick else 10_000
    lines = [
        f"Patient `{PATIENT}`: {sum(r['resourceType'] == 'Observation' for r in resources)}"
        f" Observations in prefetch. Server: `ane-cds serve` (gunicorn, {sizing()}, "
        f"on {available_cpus()} CPUs) on 127.0.0.1; clients: Python threads on the same machine.",
        "",
    ]
    env = {
        "CDS_AUTH": "off",
        "CDS_BENCH_FLOOR": "on",
        "CDS_LOG_LEVEL": "WARNING",
        "CDS_DATA_DIR": tempfile.mkdtemp(prefix="ane-bench-"),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cold: list[float] = []
    for _ in range(1 if quick else 3):
        with process(service(port, env), env):
            body = hook_body("patient-view", resources)
            cold.append(wait_for(f"{base}/cds-services/ane-patient-view", json=body))
    with process(service(port, env), env) as server:
        wait_for(f"{base}/cds-services")
        lines += [
            "| hook | concurrency | p50 ms | p95 ms | p99 ms | req/s | floor p50 / p95 / p99 ms "
            "| floor req/s | p50 ratio | p99 ratio |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        payloads = {}
        for hook in ("patient-view", "order-select", "order-sign"):
            payload = json.dumps(hook_body(hook, resources)).encode()
            payloads[hook] = payload
            hook_url = f"{base}/cds-services/ane-{hook}"
            size = len(
                requests.post(
                    hook_url, data=payload, timeout=30, headers={"Content-Type": "application/json"}
                ).content
            )
            floor_url = f"{base}/bench/floor?size={size}"
            measure(hook_url, payload, 20, 4)  # warm up
            measure(floor_url, payload, 20, 4)
            for concurrency in (1, 8):
                h, f = interleaved(hook_url, floor_url, payload, count, concurrency)
                lines.append(
                    f"| {hook} | {concurrency} | {h.pct(50):.1f} | {h.pct(95):.1f} | "
                    f"{h.pct(99):.1f} | {h.throughput:.0f} | {f.pct(50):.1f} / {f.pct(95):.1f} / "
                    f"{f.pct(99):.1f} | {f.throughput:.0f} | {h.pct(50) / f.pct(50):.2f} | "
                    f"{h.pct(99) / f.pct(99):.2f} |"
                )
        # Two halves: a leak grows in both; a one-off (a cache filling, the allocator) does not.
        rss = [worker_rss_by_pid(server.pid)]
        for _ in range(2):
            for hook, payload in payloads.items():
                measure(f"{base}/cds-services/ane-{hook}", payload, memory_requests // 6, 8)
            rss.append(worker_rss_by_pid(server.pid))
    lines += [
        "",
        f"Cold start (process start to first hook answer): "
        f"{', '.join(f'{c:.2f}' for c in cold)} s.",
        f"Resident memory per worker (in pid order): {_mb(rss[0])} MB after warm-up, {_mb(rss[1])} MB after "
        f"{memory_requests // 2:,} more requests, {_mb(rss[2])} MB after {memory_requests:,} "
        f"(largest growth {_growth(rss[0], rss[1]):+.1f} MB in the first half, "
        f"{_growth(rss[1], rss[2]):+.1f} MB in the second).",
    ]
    lines += fetch_path(resources, quick)
    return lines


def _mb(sizes: dict[int, float]) -> str:
    """Sizes in worker pid order, so that the readings line up worker by worker."""
    return ", ".join(f"{sizes[pid]:.1f}" for pid in sorted(sizes))


def _growth(before: dict[int, float], after: dict[int, float]) -> float:
    """The largest growth of one worker between two readings."""
    return max(after[pid] - before[pid] for pid in before if pid in after)


def fetch_path(resources: list[dict[str, Any]], quick: bool) -> list[str]:
    """No prefetch; every FHIR answer delayed by 100 ms: hook time vs the slowest single query."""
    node = ROOT / "integration" / "medplum"
    if not (node / "node_modules").is_dir():
        return [
            "",
            "FHIR-fetch path: skipped (run `make integration-setup` for the Medplum server).",
        ]
    fhir_port, port = free_port(), free_port()
    fhir = f"http://127.0.0.1:{fhir_port}/fhir"
    command = [
        "node",
        "--experimental-websocket",
        "server.mjs",
        "--port",
        str(fhir_port),
        "--token",
        FHIR_TOKEN,
        "--delay-ms",
        "100",
    ]
    env = {
        "CDS_AUTH": "off",
        "CDS_FHIR_SERVERS": fhir,
        "CDS_LOG_LEVEL": "WARNING",
        "CDS_DATA_DIR": tempfile.mkdtemp(prefix="ane-bench-"),
    }
    with process(command, {}, cwd=node), process(service(port, env), env):
        wait_for(f"{fhir}/metadata", headers={"Authorization": f"Bearer {FHIR_TOKEN}"})
        load_patients(fhir, datetime.now(UTC), token=FHIR_TOKEN, only=[PATIENT])
        wait_for(f"http://127.0.0.1:{port}/cds-services")
        templates = requests.get(f"http://127.0.0.1:{port}/cds-services", timeout=10).json()
        prefetch = next(s for s in templates["services"] if s["id"] == "ane-patient-view")[
            "prefetch"
        ]
        body = json.dumps(hook_body("patient-view", resources, prefetch=False, fhir_base=fhir))
        url = f"http://127.0.0.1:{port}/cds-services/ane-patient-view"
        measure(
            url, body.encode(), 5, 1
        )  # warm up both servers (the FHIR engine's first searches are slow)
        queries = [t.replace("{{context.patientId}}", PATIENT) for t in prefetch.values()]
        slowest = statistics.median(
            max(_timed_query(fhir, q) for q in queries) for _ in range(3 if quick else 7)
        )
        run = measure(url, body.encode(), 5 if quick else 20, 1)
    return [
        "",
        f"FHIR-fetch path (no prefetch, every FHIR answer delayed 100 ms): hook p50 "
        f"{run.pct(50):.0f} ms; slowest single query (all its pages) {slowest:.0f} ms; "
        f"ratio {run.pct(50) / slowest:.2f}.",
    ]


def _timed_query(fhir: str, query: str) -> float:
    """Milliseconds to read one prefetch query whole, following next links as the service does."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {FHIR_TOKEN}"
    started = time.perf_counter()
    url: str | None = f"{fhir}/{query}"
    while url:
        page = session.get(url, timeout=30).json()
        url = next(
            (link["url"] for link in page.get("link", []) if link.get("relation") == "next"), None
        )
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few requests: check that it runs")
    args = parser.parse_args(argv)
    for line in bench(args.quick):
        out(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
