"""Bounded label values: a model or provider label is one the deployment serves, else ``other``.

Clients choose model names; a label taken from them unchecked would let anyone grow the
exposition (and the scraper's memory) without bound. Only ids that an enabled provider lists
become labels, at most :data:`MAX_MODEL_LABELS` of them; everything else is ``other``.
"""

from __future__ import annotations

import time

from kernel.runtime import Kernel

__all__ = ["MAX_MODEL_LABELS", "OTHER", "REFRESH_SECONDS", "ModelLabels"]

OTHER = "other"
MAX_MODEL_LABELS = 200
REFRESH_SECONDS = 10.0


class ModelLabels:
    """The provider and model label values of one kernel, refreshed from its providers."""

    def __init__(self, kernel: Kernel, *, limit: int = MAX_MODEL_LABELS) -> None:
        self._kernel = kernel
        self._limit = limit
        self._providers: frozenset[str] = frozenset()
        self._served: frozenset[str] = frozenset()
        self._admitted: set[str] = set()
        self._refreshed = float("-inf")

    async def refresh(self, *, force: bool = False) -> None:
        """Re-read what the enabled providers serve (at most every ``REFRESH_SECONDS``)."""
        now = time.monotonic()
        if not force and now - self._refreshed < REFRESH_SECONDS:
            return
        self._refreshed = now
        providers = self._kernel.components.providers
        served: set[str] = set()
        for provider in providers:
            served.update(model.id for model in await provider.list_models())
        self._providers = frozenset(p.name for p in providers)
        self._served = frozenset(served)

    def provider(self, name: str | None) -> str:
        """``name`` if an enabled provider has it; ``none`` when no provider was reached."""
        if name is None:
            return "none"
        return name if name in self._providers else OTHER

    def model(self, model: str) -> str:
        """``model`` if a provider serves it and the label budget allows, else ``other``."""
        if model in self._admitted:
            return model
        if model not in self._served or len(self._admitted) >= self._limit:
            return OTHER
        self._admitted.add(model)
        return model
