"""What the schemathesis run found, kept for the end-of-run summary (tests/robustness/conftest.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FuzzTally:
    """Examples sent per operation and mode, statuses seen, server errors and contract breaks."""

    seed: int | None = None
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    fhir_requests: int = 0

    def summary(self) -> str:
        """One paragraph for the terminal."""
        total = sum(self.examples.values())
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"schemathesis (seed {self.seed}): {total} examples over {len(self.examples)} "
            f"operation/mode pairs; statuses {{{statuses}}}; {len(self.server_errors)} 5xx; "
            f"{len(self.violations)} responses breaking the document; "
            f"{self.fhir_requests} requests reached the local stub FHIR server"
        )


TALLY = FuzzTally()
