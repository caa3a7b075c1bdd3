"""The Meter's label values stay bounded whatever it is told."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from builtin_plugins.metrics.families import Families
from builtin_plugins.metrics.meter import EventMeter
from kernel.observe import NO_METER, Meter


def _labels(families: Families, name: str) -> list[dict[str, str]]:
    text = generate_latest(families.registry).decode()
    return [
        sample.labels
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def test_unknown_values_are_other_and_plugins_are_capped() -> None:
    families = Families()
    meter = EventMeter(families, plugin_limit=2)
    assert isinstance(meter, Meter)
    for name in ("a", "b", "c", "d"):
        meter.plugin_call(name, "endpoint", "ok", 0.001)
    meter.plugin_call("a", "user text here", "weird outcome", 0.001)
    meter.rag_ingest("embedding")
    meter.rag_query("telepathy", 0.1)
    calls = _labels(families, "enclava_plugin_calls_total")
    assert {c["plugin"] for c in calls} == {"a", "b", "other"}
    assert {(c["kind"], c["outcome"]) for c in calls} == {("endpoint", "ok"), ("other", "other")}
    assert _labels(families, "enclava_rag_ingest_jobs_total") == [{"state": "other"}]
    assert _labels(families, "enclava_rag_query_duration_seconds_count") == [{"mode": "other"}]


def test_the_no_op_meter_is_a_meter() -> None:
    assert isinstance(NO_METER, Meter)
    NO_METER.plugin_call("a", "endpoint", "ok", 0.1)
    NO_METER.usage_queue(3)
