"""Scraping ``/metrics`` in tests (tests/builtin_plugins/metrics): settings that enable it, a
scrape parsed with ``prometheus_client``'s own parser, and sums over labelled samples."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.usage import PRIVATEMODE_PRICES

TOKEN = "metrics-token-" + "x" * 16
ENABLED = {
    "ENCLAVA_METRICS_ENABLED": "true",
    "ENCLAVA_METRICS_TOKEN": TOKEN,
    "ENCLAVA_USAGE_FLUSH_INTERVAL_SECONDS": "0.05",
    "ENCLAVA_USAGE_PRICES": PRIVATEMODE_PRICES,
}
Samples = dict[str, list[tuple[dict[str, str], float]]]


async def scrape(base: str, token: str = TOKEN) -> tuple[str, Samples]:
    async with httpx.AsyncClient(base_url=base) as client:
        return await scrape_with(client, token)


async def scrape_with(client: httpx.AsyncClient, token: str = TOKEN) -> tuple[str, Samples]:
    """``GET /metrics`` through ``client`` (whose base URL is the app's root), parsed."""
    response = await client.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return response.text, samples


def family_types(text: str) -> dict[str, str]:
    """Each family's name (without ``_total``) and type, as the parser reads them."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for found, value in samples.get(name, [])
        if all(found.get(k) == v for k, v in labels.items())
    )
