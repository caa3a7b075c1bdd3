"""The request observer: refusals by reason, and nothing but templates and codes in labels."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from builtin_plugins.metrics.families import Families
from builtin_plugins.metrics.feed import HttpObserver


def test_refusals_are_counted_by_reason() -> None:
    families = Families()
    observer = HttpObserver(families)
    chat = ("public", "/api/v1/chat/completions", "POST")
    observer.observe(*chat, 402, 0.01, "insufficient_quota")
    observer.observe(*chat, 429, 0.01, "rate_limit_exceeded")
    observer.observe(*chat, 404, 0.01, "model_not_found")
    observer.observe(*chat, 200, 0.02, None)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(generate_latest(families.registry).decode())
        for s in f.samples
    }
    assert samples[("enclava_refusals_total", (("reason", "budget"),))] == 1
    assert samples[("enclava_refusals_total", (("reason", "rate_limit"),))] == 1
    reasons = {dict(k)["reason"] for n, k in samples if n == "enclava_refusals_total"}
    assert reasons == {"budget", "rate_limit"}
    durations = [v for (n, _), v in samples.items() if n.endswith("duration_seconds_count")]
    assert durations == [4]
