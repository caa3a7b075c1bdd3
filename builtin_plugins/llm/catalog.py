"""Public model id → the providers serving it, rebuilt only when a provider's list changes."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from kernel.upstream import ModelInfo, Provider

__all__ = ["Catalog", "Route"]


class Route(msgspec.Struct, frozen=True):
    """One way to serve a model: a provider and the model as that provider knows it."""

    provider: Provider
    model: ModelInfo


class Catalog:
    """Indexes providers' model lists; providers return the same list object while unchanged."""

    def __init__(self) -> None:
        self._sources: tuple[object, ...] = ()
        self._index: dict[str, tuple[Route, ...]] = {}

    async def index(self, providers: Sequence[Provider]) -> dict[str, tuple[Route, ...]]:
        """Model id → routes over ``providers`` (confidential models only)."""
        lists = [await provider.list_models() for provider in providers]
        sources = (*providers, *lists)
        if len(sources) != len(self._sources) or any(
            a is not b for a, b in zip(sources, self._sources, strict=True)
        ):
            self._index = _build(providers, lists)
            self._sources = sources
        return self._index


def _build(
    providers: Sequence[Provider], lists: Sequence[Sequence[ModelInfo]]
) -> dict[str, tuple[Route, ...]]:
    index: dict[str, list[Route]] = {}
    for provider, models in zip(providers, lists, strict=True):
        if not provider.confidential:
            continue
        for model in models:
            if model.confidential:
                index.setdefault(model.id, []).append(Route(provider, model))
    return {model_id: tuple(routes) for model_id, routes in index.items()}
