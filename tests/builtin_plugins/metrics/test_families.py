"""Multi-process mode (``enclava serve --workers N``): every worker's counts reach any scrape."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from kernel.cli import PROMETHEUS_MULTIPROC_ENV, _share_metrics_between_workers

WORKER = """
from builtin_plugins.metrics.families import Families
from builtin_plugins.metrics.feed import HttpObserver
from builtin_plugins.metrics.meter import EventMeter
families = Families()
observer = HttpObserver(families)
for _ in range({count}):
    observer.observe("public", "/api/v1/models", "GET", 200, 0.01, None)
observer.observe("public", "/api/v1/models", "GET", 429, 0.01, "rate_limit_exceeded")
meter = EventMeter(families)
meter.plugin_call("hello", "endpoint", "ok", 0.002)
meter.plugin_call("hello", "endpoint", "trap", 0.5)
meter.rag_ingest("indexed")
meter.rag_query("hybrid", 0.03)
meter.usage_queue({count})
"""
SCRAPER = """
from prometheus_client import CollectorRegistry, generate_latest
from builtin_plugins.metrics.families import Families, counted_collector
registry = CollectorRegistry()
registry.register(counted_collector(Families()))
print(generate_latest(registry).decode())
"""


def _run(code: str, directory: Path) -> str:
    env = {**os.environ, PROMETHEUS_MULTIPROC_ENV: str(directory)}
    root = Path(__file__).parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_workers_counts_are_summed_by_any_scrape(tmp_path: Path) -> None:
    _run(WORKER.format(count=3), tmp_path)
    _run(WORKER.format(count=4), tmp_path)
    samples = {
        (s.name, s.labels.get("status"), s.labels.get("reason")): s.value
        for family in text_string_to_metric_families(_run(SCRAPER, tmp_path))
        for s in family.samples
    }
    assert samples[("enclava_http_requests_total", "200", None)] == 7
    assert samples[("enclava_http_requests_total", "429", None)] == 2
    assert samples[("enclava_refusals_total", None, "rate_limit")] == 2
    assert samples[("enclava_http_request_duration_seconds_count", None, None)] == 9


def test_workers_events_are_summed_and_the_queue_depths_added(tmp_path: Path) -> None:
    _run(WORKER.format(count=3), tmp_path)
    _run(WORKER.format(count=4), tmp_path)
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(_run(SCRAPER, tmp_path)):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    calls = {
        tuple(sorted(labels.items())): v for labels, v in samples["enclava_plugin_calls_total"]
    }
    assert calls == {
        (("kind", "endpoint"), ("outcome", "ok"), ("plugin", "hello")): 2,
        (("kind", "endpoint"), ("outcome", "trap"), ("plugin", "hello")): 2,
    }
    (count,) = samples["enclava_plugin_call_duration_seconds_count"]
    assert count == ({"plugin": "hello", "kind": "endpoint"}, 4)
    assert samples["enclava_rag_ingest_jobs_total"] == [({"state": "indexed"}, 2)]
    assert samples["enclava_rag_query_duration_seconds_count"] == [({"mode": "hybrid"}, 2)]
    assert samples["enclava_usage_queue_depth"] == [({}, 7)]  # each worker's depth, added


def test_serve_with_workers_gets_a_fresh_directory(
    make_settings: Any, sqlite_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv(PROMETHEUS_MULTIPROC_ENV, "")  # unset for the test, restored after
    data = tmp_path / "data"
    _share_metrics_between_workers(make_settings(sqlite_url, data_dir=data))
    assert os.environ[PROMETHEUS_MULTIPROC_ENV] == ""  # one worker: the in-process registry
    stale = data / "prometheus-multiproc" / "counter_123.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    settings = make_settings(sqlite_url, data_dir=data, ENCLAVA_SERVER_WORKERS="2")
    _share_metrics_between_workers(settings)
    assert os.environ[PROMETHEUS_MULTIPROC_ENV] == str(stale.parent.resolve())
    assert list(stale.parent.iterdir()) == []
