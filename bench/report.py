"""Turning per-repeat results into the markdown table and the issue's targets with pass/miss."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from loadgen import Result, percentile

__all__ = ["Cell", "Key", "Targets", "aggregate", "table", "targets"]

Key = tuple[str, str, int]
"""(target, mode, concurrency); mode is ``chat`` or ``stream``."""
DIRECT = "direct"


@dataclass(frozen=True)
class Cell:
    """Medians over the repeats of one (target, mode, concurrency)."""

    rps: float
    p50: float
    p99: float
    ttfc: float
    cpu: float
    errors: int


def _median(values: Iterable[float | None]) -> float:
    real = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(real) if real else math.nan


def aggregate(results: dict[Key, list[Result]]) -> dict[Key, Cell]:
    """Per-cell medians (latencies in ms)."""
    cells = {}
    for key, runs in results.items():
        cells[key] = Cell(
            rps=_median(r.rps for r in runs),
            p50=_median(percentile(r.latencies, 50) * 1000 for r in runs),
            p99=_median(percentile(r.latencies, 99) * 1000 for r in runs),
            ttfc=_median(percentile(r.ttfc, 50) * 1000 for r in runs if r.ttfc),
            cpu=_median(r.cpu_ms for r in runs),
            errors=sum(r.errors for r in runs),
        )
    return cells


def _fmt(value: float, digits: int = 2, sign: bool = False) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:+.{digits}f}" if sign else f"{value:,.{digits}f}"


def _row(key: Key, cell: Cell, direct: Cell | None) -> str:
    target, mode, conc = key
    added = cell.p50 - direct.p50 if direct and target != DIRECT else math.nan
    ttfc_added = cell.ttfc - direct.ttfc if direct and target != DIRECT else math.nan
    cols = [
        target,
        mode,
        str(conc),
        _fmt(cell.rps, 0),
        _fmt(cell.p50),
        _fmt(cell.p99),
        _fmt(added, sign=True),
        _fmt(cell.ttfc),
        _fmt(ttfc_added, sign=True),
        _fmt(cell.cpu, 3),
        str(cell.errors),
    ]
    return "| " + " | ".join(cols) + " |"


def table(cells: dict[Key, Cell], order: list[str]) -> str:
    """One markdown table, grouped by mode and concurrency, targets in ``order``."""
    head = (
        "| target | mode | c | req/s | p50 ms | p99 ms | added p50 ms | TTFC p50 ms "
        "| TTFC added ms | gateway CPU/req ms | errors |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    keys = sorted(cells, key=lambda k: (k[1], k[2], order.index(k[0])))
    for key in keys:
        rows.append(_row(key, cells[key], cells.get((DIRECT, key[1], key[2]))))
    return "\n".join(rows)


@dataclass(frozen=True)
class Targets:
    """What the targets are checked against."""

    gateway: str
    concurrencies: list[int]
    idle_rss_mib: float
    rival: str | None


def _check(name: str, value: float, ok: Callable[[float], bool], shown: str) -> str:
    verdict = "not measured" if math.isnan(value) else ("PASS" if ok(value) else "MISS")
    return f"| {name} | {shown} | {verdict} |"


def _worst_cpu(cells: dict[Key, Cell], t: Targets, mode: str) -> tuple[float, str]:
    values = {
        c: cells[(t.gateway, mode, c)].cpu for c in t.concurrencies if (t.gateway, mode, c) in cells
    }
    worst = max(values.values(), default=math.nan)
    shown = ", ".join(f"c={c}: {_fmt(v, 3)}" for c, v in values.items())
    return worst, f"max {_fmt(worst, 3)} ms ({shown})"


def _delta(cells: dict[Key, Cell], gateway: str, mode: str, field: str) -> float:
    ours, direct = cells.get((gateway, mode, 1)), cells.get((DIRECT, mode, 1))
    if ours is None or direct is None:
        return math.nan
    return float(getattr(ours, field)) - float(getattr(direct, field))


def _ratio(cells: dict[Key, Cell], t: Targets, mode: str) -> tuple[float, str]:
    top = max(t.concurrencies)
    ours = cells.get((t.gateway, mode, top))
    rival = cells.get((t.rival, mode, top)) if t.rival else None
    if ours is None or rival is None or not rival.rps:
        return math.nan, "LiteLLM not measured"
    ratio = ours.rps / rival.rps
    return ratio, f"{ratio:.1f}x ({_fmt(ours.rps, 0)} vs {_fmt(rival.rps, 0)} req/s, c={top})"


def targets(cells: dict[Key, Cell], t: Targets) -> str:
    """The issue's targets with the measured value and PASS/MISS."""
    rows = ["| target (issue #4) | measured | verdict |", "|---|---|---|"]
    cpu, shown = _worst_cpu(cells, t, "chat")
    rows.append(_check("CPU/request non-streaming <= 1 ms", cpu, lambda v: v <= 1.0, shown))
    cpu, shown = _worst_cpu(cells, t, "stream")
    rows.append(_check("CPU per 20-chunk stream <= 2 ms", cpu, lambda v: v <= 2.0, shown))
    added = _delta(cells, t.gateway, "chat", "p50")
    rows.append(
        _check(
            "added p50 at c=1 <= 1 ms", added, lambda v: v <= 1.0, f"{_fmt(added, sign=True)} ms"
        )
    )
    ttfc = _delta(cells, t.gateway, "stream", "ttfc")
    rows.append(
        _check(
            "TTFC overhead at c=1 <= 1 ms", ttfc, lambda v: v <= 1.0, f"{_fmt(ttfc, sign=True)} ms"
        )
    )
    for mode in ("chat", "stream"):
        ratio, shown = _ratio(cells, t, mode)
        name = f"req/s at c={max(t.concurrencies)} >= 25x LiteLLM ({mode})"
        rows.append(_check(name, ratio, lambda v: v >= 25.0, shown))
    rss_mb = t.idle_rss_mib * 1.048576
    shown = f"{t.idle_rss_mib:.1f} MiB = {rss_mb:.1f} MB"
    rows.append(_check("idle worker RSS <= 150 MB", rss_mb, lambda v: v <= 150.0, shown))
    return "\n".join(rows)
