"""`make load`: a bounded load test of the real service, with nothing lost and no error.

20,000 calls (by default) at concurrency 16 against `ane-cds serve` (gunicorn, default sizing)
on 127.0.0.1, mixing the three hooks and the feedback endpoint in equal shares. Every hook
call has its own hookInstance and full prefetch (the fixture patient with the most data); every
feedback call reports two cards served by earlier hook calls, so that every item is new. It
passes when no call failed (any status but 200, a transport error, a feedback answer not storing
every item), when `ane-cds feedback report --json` over the service's CDS_DATA_DIR counts every
item sent, and when worker memory stays steady after warm-up. Prints a Markdown summary for
BENCHMARKS.md; exits 1 when it did not pass.

    .venv/bin/python -m bench.load [--calls 20000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from bench.run import (
    ANE_CDS,
    Run,
    free_port,
    hook_body,
    patient_resources,
    process,
    service,
    wait_for,
    worker_rss_mb,
)

HOOKS = ("patient-view", "order-select", "order-sign")
KINDS = (*HOOKS, "feedback")  # one call of each kind in turn
FIXED_INSTANCE = b"0c8f5a36-8a8e-4f7e-9d15-6f1f0e2b7a11"  # the hookInstance of bench.run's bodies
ITEMS_PER_FEEDBACK = 2
WARM_UP_CALLS = 200  # per hook, before the first memory reading
MAX_GROWTH_MB = 25.0  # "steady": no worker grows more than this after warm-up
JSON_HEADERS = {"Content-Type": "application/json"}
HTTP_OK = 200


@dataclass
class Outcome:
    """What the load run saw: per call kind, latencies; failures; feedback items sent."""

    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    items_sent: int = 0
    items_acknowledged: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, kind: str, elapsed_ms: float, failure: str | None) -> None:
        with self.lock:
            self.latencies_ms.setdefault(kind, []).append(elapsed_ms)
            if failure is not None:
                self.failures.append(f"{kind}: {failure}")

    def run(self, kind: str | None = None) -> Run:
        """All calls (or one kind) as a bench Run: percentiles and throughput."""
        kinds = [kind] if kind else list(self.latencies_ms)
        return Run([x for k in kinds for x in self.latencies_ms.get(k, [])], self.seconds)


@dataclass(frozen=True)
class LoadReport:
    """The figures of one load run."""

    warm_up_calls: int
    calls: int
    concurrency: int
    outcome: Outcome
    rss_warm_mb: list[float]
    rss_after_mb: list[float]
    items_stored: int

    @property
    def growth_mb(self) -> float:
        """The largest growth of one worker's resident memory after warm-up."""
        pairs = zip(self.rss_after_mb, self.rss_warm_mb, strict=False)
        return max((after - warm for after, warm in pairs), default=0.0)

    @property
    def passed(self) -> bool:
        """No failed call, every feedback item stored, memory steady."""
        sent = self.outcome.items_sent
        return (
            not self.outcome.failures
            and self.items_stored == sent == self.outcome.items_acknowledged
            and self.growth_mb <= MAX_GROWTH_MB
        )


class Caller:
    """One load run's requests: hook bodies with fresh hookInstances, feedback on served cards."""

    def __init__(self, base: str, outcome: Outcome) -> None:
        resources = patient_resources(datetime.now(UTC))
        self.base = base
        self.bodies = {hook: json.dumps(hook_body(hook, resources)).encode() for hook in HOOKS}
        self.cards: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.outcome = outcome
        self.local = threading.local()

    def session(self) -> requests.Session:
        """One keep-alive session per client thread, as an EHR would hold."""
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        session: requests.Session = self.local.session
        return session

    def call(self, kind: str) -> None:
        """One call of this kind, timed and checked."""
        started = time.perf_counter()
        try:
            failure = self.feedback() if kind == "feedback" else self.hook(kind)
        except requests.RequestException as error:
            failure = f"{type(error).__name__}"
        self.outcome.record(kind, (time.perf_counter() - started) * 1000, failure)

    def hook(self, hook: str) -> str | None:
        body = self.bodies[hook].replace(FIXED_INSTANCE, str(uuid.uuid4()).encode())
        service_id = f"ane-{hook}"
        response = self.session().post(
            f"{self.base}/cds-services/{service_id}", data=body, headers=JSON_HEADERS, timeout=60
        )
        if response.status_code != HTTP_OK:
            return f"HTTP {response.status_code}"
        for card in response.json()["cards"]:
            self.cards.put((service_id, card))
        return None

    def feedback(self) -> str | None:
        served = [self.cards.get(timeout=60) for _ in range(ITEMS_PER_FEEDBACK)]
        by_service: dict[str, list[dict[str, Any]]] = {}
        for service_id, card in served:
            by_service.setdefault(service_id, []).append(feedback_item(card))
        for service_id, items in by_service.items():
            with self.outcome.lock:
                self.outcome.items_sent += len(items)
            response = self.session().post(
                f"{self.base}/cds-services/{service_id}/feedback",
                json={"feedback": items},
                timeout=60,
            )
            if response.status_code != HTTP_OK:
                return f"HTTP {response.status_code}"
            answer = response.json()
            with self.outcome.lock:
                self.outcome.items_acknowledged += answer["stored"]
            if answer["stored"] != len(items) or "unknownCards" in answer:
                return f"feedback answer {answer}"
        return None


def feedback_item(card: dict[str, Any]) -> dict[str, Any]:
    """Accept the card's first suggestion, or override it with its first reason."""
    item: dict[str, Any] = {
        "card": card["uuid"],
        "outcomeTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    if card.get("suggestions"):
        item["outcome"] = "accepted"
        item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    else:
        item["outcome"] = "overridden"
        reasons = card.get("overrideReasons")
        if reasons:
            item["overrideReason"] = {"reason": reasons[0]}
    return item


def drive(caller: Caller, kinds: list[str], concurrency: int) -> float:
    """Run the calls on `concurrency` client threads; the seconds it took."""
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(caller.call, kinds))
    return time.perf_counter() - started


def stored_items(env: dict[str, str]) -> int:
    """Feedback items in the store, counted by `ane-cds feedback report --json`."""
    report = subprocess.run(
        [str(ANE_CDS), "feedback", "report", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    total: int = json.loads(report.stdout)["total"]["feedback"]
    return total


def run_load(
    calls: int,
    concurrency: int,
    warm_up_calls: int = WARM_UP_CALLS,
    progress: Callable[[str], None] = lambda _: None,
) -> LoadReport:
    """Start the service, warm it up, run `calls` mixed calls, stop it, count what was stored."""
    with tempfile.TemporaryDirectory(prefix="ane-load-") as data_dir:
        env = {"CDS_AUTH": "off", "CDS_LOG_LEVEL": "WARNING", "CDS_DATA_DIR": data_dir}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with process(service(port, env), env) as server:
            wait_for(f"{base}/cds-services")
            warm_up = Outcome()  # hook calls only: no feedback item is sent before the run
            hooks = [hook for hook in HOOKS for _ in range(warm_up_calls)]
            drive(Caller(base, warm_up), hooks, concurrency)
            if warm_up.failures:
                raise RuntimeError(f"warm-up failed: {warm_up.failures[:3]}")
            rss_warm = worker_rss_mb(server.pid)
            progress(f"warm: workers {rss_warm} MB; {calls} calls at concurrency {concurrency}")
            outcome = Outcome()
            kinds = list(itertools.islice(itertools.cycle(KINDS), calls))
            outcome.seconds = drive(Caller(base, outcome), kinds, concurrency)
            rss_after = worker_rss_mb(server.pid)
        return LoadReport(
            warm_up_calls=len(hooks),
            calls=calls,
            concurrency=concurrency,
            outcome=outcome,
            rss_warm_mb=rss_warm,
            rss_after_mb=rss_after,
            items_stored=stored_items(env),
        )


def summary(report: LoadReport) -> list[str]:
    """The Markdown lines for BENCHMARKS.md."""
    outcome = report.outcome
    total = outcome.run()
    counts = Counter({kind: len(v) for kind, v in outcome.latencies_ms.items()})
    lines = [
        f"{report.calls:,} calls at concurrency {report.concurrency} in {outcome.seconds:.1f} s: "
        f"{total.throughput:.0f} calls/s; errors: {len(outcome.failures)}.",
        "",
        "| calls | count | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for kind in (*KINDS, None):
        run = outcome.run(kind)
        count = counts[kind] if kind else sum(counts.values())
        lines.append(
            f"| {kind or 'all'} | {count:,} | {run.pct(50):.1f} | {run.pct(95):.1f} | "
            f"{run.pct(99):.1f} | {max(run.latencies_ms):.1f} |"
        )
    lines += [
        "",
        f"Feedback items: {outcome.items_sent:,} sent, {outcome.items_acknowledged:,} "
        f"acknowledged as stored, {report.items_stored:,} counted in the store "
        "(`ane-cds feedback report --json`).",
        f"Resident memory per worker: {', '.join(f'{m:.1f}' for m in report.rss_warm_mb)} MB "
        f"after warm-up ({report.warm_up_calls:,} hook calls), "
        f"{', '.join(f'{m:.1f}' for m in report.rss_after_mb)} MB after the run "
        f"(largest growth {report.growth_mb:+.1f} MB; limit {MAX_GROWTH_MB:.0f} MB).",
        f"Result: {'PASS' if report.passed else 'FAIL'}.",
    ]
    for failure in outcome.failures[:10]:
        lines.append(f"- failed: {failure}")
    return lines


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls in the measured run")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads")
    args = parser.parse_args(argv)
    report = run_load(args.calls, args.concurrency, progress=lambda x: print(x, file=sys.stderr))
    for line in summary(report):
        out(line)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
