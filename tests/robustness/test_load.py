"""A reduced `make load` in the suite: 1,000 mixed calls at concurrency 16 against the real
service, no error, every feedback item stored (the full 20,000 run: `make load`, BENCHMARKS.md)."""

from __future__ import annotations

from bench.load import KINDS, run_load, summary


def test_a_thousand_mixed_calls_fail_none_and_lose_no_feedback() -> None:
    report = run_load(1000, 16, warm_up_calls=30)
    outcome = report.outcome
    assert outcome.failures == []
    assert sorted(outcome.latencies_ms) == sorted(KINDS)
    assert all(len(latencies) == 250 for latencies in outcome.latencies_ms.values())
    assert outcome.items_sent == 2 * 250
    assert report.items_stored == outcome.items_acknowledged == outcome.items_sent
    assert report.passed
    assert "Result: PASS." in summary(report)
