"""Turning per-repeat results into the markdown table and issue #19's targets with PASS/MISS."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from loadgen import Result, percentile

__all__ = ["ENCLAVA_TARGETS", "Cell", "Key", "aggregate", "table", "targets"]

Key = tuple[str, str, int]
"""(target, mode, concurrency); mode is ``chat`` or ``stream``."""
DIRECT = "direct"
FLOOR = "floor"
ENCLAVA_TARGETS = ("enclava", "enclava-prod")


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


def _row(key: Key, cell: Cell, direct: Cell | None, floor: Cell | None) -> str:
    target, mode, conc = key
    baseline = direct if direct and target != DIRECT else None
    added = cell.p50 - baseline.p50 if baseline else math.nan
    added_p99 = cell.p99 - baseline.p99 if baseline else math.nan
    ttfc_added = cell.ttfc - baseline.ttfc if baseline else math.nan
    times_floor = cell.cpu / floor.cpu if floor and target != FLOOR and floor.cpu else math.nan
    cols = [
        target,
        mode,
        str(conc),
        _fmt(cell.rps, 0),
        _fmt(cell.p50),
        _fmt(cell.p99),
        _fmt(added, sign=True),
        _fmt(added_p99, sign=True),
        _fmt(cell.ttfc),
        _fmt(ttfc_added, sign=True),
        _fmt(cell.cpu, 3),
        _fmt(times_floor, 2),
        str(cell.errors),
    ]
    return "| " + " | ".join(cols) + " |"


def table(cells: dict[Key, Cell], order: list[str]) -> str:
    """One markdown table, grouped by mode and concurrency, targets in ``order``."""
    head = (
        "| target | mode | c | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| TTFC p50 ms | TTFC added ms | gateway CPU/req ms | x floor | errors |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    keys = sorted(cells, key=lambda k: (k[1], k[2], order.index(k[0])))
    for key in keys:
        _, mode, conc = key
        rows.append(
            _row(key, cells[key], cells.get((DIRECT, mode, conc)), cells.get((FLOOR, mode, conc)))
        )
    return "\n".join(rows)


def _check(name: str, value: float, ok: Callable[[float], bool], shown: str) -> str:
    verdict = "not measured" if math.isnan(value) else ("PASS" if ok(value) else "MISS")
    return f"| {name} | {shown} | {verdict} |"


def _cpu(cells: dict[Key, Cell], target: str, mode: str, conc: int) -> float:
    cell = cells.get((target, mode, conc))
    return cell.cpu if cell is not None else math.nan


def _ratios(
    cells: dict[Key, Cell], gateway: str, mode: str, concurrencies: list[int]
) -> tuple[float, str]:
    """The worst CPU/request ratio to the floor over ``concurrencies``, and every one shown."""
    ratios = {c: _cpu(cells, gateway, mode, c) / _cpu(cells, FLOOR, mode, c) for c in concurrencies}
    real = [r for r in ratios.values() if not math.isnan(r)]
    shown = ", ".join(
        f"c={c}: {_fmt(_cpu(cells, gateway, mode, c), 3)} ms = {_fmt(r)}x"
        for c, r in ratios.items()
    )
    return (max(real) if real else math.nan), shown


def _delta(cells: dict[Key, Cell], gateway: str, mode: str, field: str) -> float:
    ours, direct = cells.get((gateway, mode, 1)), cells.get((DIRECT, mode, 1))
    if ours is None or direct is None:
        return math.nan
    return float(getattr(ours, field)) - float(getattr(direct, field))


def targets(
    cells: dict[Key, Cell], gateway: str, concurrencies: list[int], idle_rss_mib: float
) -> str:
    """Issue #19's targets for ``gateway`` with the measured value and PASS/MISS."""
    rows = [f"| target (issue #19), {gateway} | measured | verdict |", "|---|---|---|"]
    ratio, shown = _ratios(cells, gateway, "chat", concurrencies)
    rows.append(_check("chat CPU/request <= 1.5x the floor", ratio, lambda v: v <= 1.5, shown))
    worst = max((_cpu(cells, gateway, "chat", c) for c in concurrencies), default=math.nan)
    rows.append(
        _check("chat CPU/request <= 0.8 ms", worst, lambda v: v <= 0.8, f"max {_fmt(worst, 3)} ms")
    )
    ratio, shown = _ratios(cells, gateway, "stream", concurrencies)
    rows.append(_check("stream CPU/request <= 1.5x the floor", ratio, lambda v: v <= 1.5, shown))
    added = _delta(cells, gateway, "chat", "p50")
    shown = f"{_fmt(added, sign=True)} ms"
    rows.append(_check("added p50 at c=1 <= 0.5 ms", added, lambda v: v <= 0.5, shown))
    ttfc = _delta(cells, gateway, "stream", "ttfc")
    shown = f"{_fmt(ttfc, sign=True)} ms"
    rows.append(_check("stream TTFC overhead at c=1 <= 0.5 ms", ttfc, lambda v: v <= 0.5, shown))
    shown = f"{idle_rss_mib:.1f} MiB"
    rows.append(_check("idle RSS <= 120 MiB", idle_rss_mib, lambda v: v <= 120.0, shown))
    return "\n".join(rows)
