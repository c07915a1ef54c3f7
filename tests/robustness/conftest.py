"""Print the fuzzing figures at the end of a run that fuzzed (examples, 5xx, contract breaks)."""

from __future__ import annotations

from _pytest.terminal import TerminalReporter

from tests.robustness.fuzzing import TALLY


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if TALLY.examples:
        terminalreporter.write_line(TALLY.summary())
