"""Model and provider labels stay bounded whatever model names clients send."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from builtin_plugins.metrics.families import Families
from builtin_plugins.metrics.feed import UsageMetrics
from builtin_plugins.metrics.labels import OTHER, ModelLabels
from kernel.exchange import UsageRecord
from kernel.upstream import ModelInfo


class FakeProvider:
    name = "privatemode"

    def __init__(self, models: list[str]) -> None:
        self._models = [
            ModelInfo(id=m, provider=self.name, upstream_id=m, region="eu") for m in models
        ]

    async def list_models(self) -> list[ModelInfo]:
        return self._models


def _kernel(models: list[str]) -> Any:
    return SimpleNamespace(components=SimpleNamespace(providers=(FakeProvider(models),)))


def _record(model: str, provider: str | None = "privatemode") -> UsageRecord:
    return UsageRecord(
        request_id="req_1",
        created_at=datetime.now(UTC),
        kind="chat",
        user_id="u1",
        key_id="k1",
        provider=provider,
        model=model,
        prompt_tokens=3,
        completion_tokens=5,
        cost_micros=10,
        currency="EUR",
        latency_ms=12,
        ttft_ms=4,
        status=200,
    )


async def test_a_thousand_random_models_collapse_to_other() -> None:
    families = Families()
    sink = UsageMetrics(families, ModelLabels(_kernel(["gpt-oss-120b"])))
    await sink.write([_record("gpt-oss-120b")])
    await sink.write([_record(f"m-{secrets.token_hex(6)}") for _ in range(1000)])
    await sink.write([_record("x", provider="somewhere-else")])
    text = generate_latest(families.registry).decode()
    models = {
        s.labels["model"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if "model" in s.labels
    }
    providers = {
        s.labels["provider"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if "provider" in s.labels
    }
    assert models == {"gpt-oss-120b", OTHER}
    assert providers == {"privatemode", OTHER}
    assert "k1" not in text
    assert "u1" not in text


async def test_the_label_budget_is_capped() -> None:
    labels = ModelLabels(_kernel([f"m{i}" for i in range(10)]), limit=3)
    await labels.refresh()
    assert [labels.model(f"m{i}") for i in range(5)] == ["m0", "m1", "m2", OTHER, OTHER]
    assert labels.model("m1") == "m1"
    assert labels.provider(None) == "none"
