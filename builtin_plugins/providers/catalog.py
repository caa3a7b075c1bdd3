"""From a provider's own model list to the ``ModelInfo`` entries the router indexes.

A discovered model has one upstream id and maybe other ids it is also listed under (folded
duplicates). :func:`publish` applies the allowlist, then emits one entry per public id: the
model itself, each folded id and each configured alias, all pointing at the same upstream id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from kernel.upstream import ModelInfo, ModelPrice

__all__ = ["Published", "UpstreamModel", "fold_short_ids", "publish"]


class UpstreamModel(msgspec.Struct, frozen=True, kw_only=True):
    """A model as the provider lists it; ``also_listed_as`` are its duplicate ids."""

    id: str
    tasks: frozenset[str]
    context_length: int | None = None
    also_listed_as: tuple[str, ...] = ()
    pricing: ModelPrice | None = None


class Published(msgspec.Struct, frozen=True):
    """What discovery exposes: every public entry, and alias → canonical public id."""

    models: tuple[ModelInfo, ...] = ()
    aliases: Mapping[str, str] = {}


def _short_form_of(short: str, full: str) -> bool:
    name = full.rpartition("/")[2].lower()
    return f"-{short.lower()}-" in f"-{name}-"


def fold_short_ids(models: Sequence[UpstreamModel]) -> list[UpstreamModel]:
    """Fold each full id (``org/Name-Size-suffix``) into the one short id (``name-size``) listed
    for the same model with the same tasks; the short id, the newer form, stays canonical."""
    fulls = [m for m in models if "/" in m.id]
    folded: dict[str, str] = {}
    for short in (m for m in models if "/" not in m.id):
        matches = [f for f in fulls if f.tasks == short.tasks and _short_form_of(short.id, f.id)]
        if len(matches) == 1 and matches[0].id not in folded:
            folded[matches[0].id] = short.id
    result: list[UpstreamModel] = []
    for model in models:
        if model.id in folded:
            continue
        extra = tuple(full for full, short in folded.items() if short == model.id)
        if extra:
            context = model.context_length or next(
                (m.context_length for m in fulls if m.id in extra and m.context_length), None
            )
            model = msgspec.structs.replace(model, also_listed_as=extra, context_length=context)
        result.append(model)
    return result


def _allowed(model: UpstreamModel, allowlist: frozenset[str]) -> bool:
    return not allowlist or model.id in allowlist or not allowlist.isdisjoint(model.also_listed_as)


def publish(
    models: Iterable[UpstreamModel],
    *,
    provider: str,
    region: str,
    allowlist: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> Published:
    """The public entries of ``models`` (allowlisted), their folded ids and configured aliases."""
    allowed = [m for m in models if _allowed(m, frozenset(allowlist))]
    by_any_id = {i: m for m in allowed for i in (m.id, *m.also_listed_as)}
    public: dict[str, UpstreamModel] = {}
    for model in allowed:
        for public_id in (model.id, *model.also_listed_as):
            public.setdefault(public_id, model)
    for alias, target in (aliases or {}).items():
        found = by_any_id.get(target)
        if found is not None and alias not in public:
            public[alias] = found
    entries = tuple(
        ModelInfo(
            id=public_id,
            provider=provider,
            upstream_id=model.id,
            region=region,
            tasks=model.tasks,
            confidential=True,
            owned_by=provider,
            context_length=model.context_length,
            pricing=model.pricing,
        )
        for public_id, model in public.items()
    )
    alias_map = {public_id: m.id for public_id, m in public.items() if public_id != m.id}
    return Published(models=entries, aliases=alias_map)
