"""The report's chart: acceptance and override rates per card topic, as a PNG."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from cds_service.feedback.report import Report

ACCEPTED_COLOUR = "#1b7837"
OVERRIDDEN_COLOUR = "#c2410c"
BAR_HEIGHT = 0.38


def plot_rates(report: Report, path: Path) -> Path:
    """Draw accepted and overridden shares of feedback per topic (topics with feedback only)."""
    rows = [row for row in report.topics if row.feedback]
    height = 1.6 + 0.55 * max(len(rows), 1)
    figure = Figure(figsize=(10, height), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(rows)))
    accepted = [100 * (row.acceptance_rate or 0) for row in rows]
    overridden = [100 * (row.override_rate or 0) for row in rows]
    axes.barh(
        [p - BAR_HEIGHT / 2 for p in positions],
        accepted,
        BAR_HEIGHT,
        color=ACCEPTED_COLOUR,
        label="accepted",
    )
    axes.barh(
        [p + BAR_HEIGHT / 2 for p in positions],
        overridden,
        BAR_HEIGHT,
        color=OVERRIDDEN_COLOUR,
        label="overridden",
    )
    for position, kept, refused in zip(positions, accepted, overridden, strict=True):
        for offset, share in ((-BAR_HEIGHT / 2, kept), (BAR_HEIGHT / 2, refused)):
            axes.text(share + 1, position + offset, f"{share:.0f}%", va="center", fontsize=8)
    axes.set_yticks(positions, [f"{row.name}  (n={row.feedback})" for row in rows])
    axes.invert_yaxis()
    axes.set_xlim(0, 108)
    axes.set_xticks(range(0, 101, 20))
    axes.set_xlabel("share of feedback items (%)")
    axes.set_title(
        f"ANE CDS: card feedback per topic ({report.total.feedback} items, "
        f"{_percent(report.total.acceptance_rate)} accepted)"
    )
    axes.grid(axis="x", alpha=0.3)
    if rows:
        figure.legend(loc="outside lower center", ncols=2, fontsize=9)
    else:
        axes.text(50, 0, "no feedback stored yet", ha="center", va="center")
    figure.savefig(path)
    return path


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.0f}%"
