"""The benchmark runs and prints its table. No timing is asserted here: CI machines are noisy;
the figures and the targets live in BENCHMARKS.md (`make bench`)."""

from __future__ import annotations

import re

from bench.run import main


def test_the_benchmark_runs_and_prints_its_table() -> None:
    lines: list[str] = []
    assert main(["--quick"], out=lines.append) == 0
    rows = [
        line for line in lines if re.match(r"^\| (patient-view|order-select|order-sign) \|", line)
    ]
    assert [row.split("|")[2].strip() for row in rows] == ["1", "8"] * 3
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert all(re.fullmatch(r"[0-9.]+", c) for c in cells[2:6] + cells[7:])
    text = "\n".join(lines)
    assert "Cold start" in text and "Resident memory per worker" in text
    assert "FHIR-fetch path" in text and "ratio" in text
