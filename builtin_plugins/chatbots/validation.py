"""A chatbot is saved only if its model can be reached under its own constraints.

"Reachable" is judged on the providers the kernel runs now: a healthy provider, among the
allowed ones (when set), in the required region (when set), that lists the model for chat.
Anything else is a 400 naming what is missing, so a chatbot never fails only at its first chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from builtin_plugins.chatbots.payloads import Chatbot
from kernel.errors import InvalidRequestError
from kernel.runtime import Kernel
from kernel.upstream import ModelInfo

__all__ = ["check_config", "merged", "model_info"]


def _check_providers(known: set[str], fields: Mapping[str, Any]) -> None:
    allowed: list[str] = fields["allowed_providers"]
    preferred: list[str] = fields["preferred_providers"]
    for param in ("allowed_providers", "preferred_providers"):
        unknown = sorted(set(fields[param]) - known)
        if unknown:
            raise InvalidRequestError(
                f"Unknown provider(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.",
                param=param,
            )
    outside = [p for p in preferred if allowed and p not in allowed]
    if outside:
        raise InvalidRequestError(
            f"Preferred provider(s) {', '.join(outside)} are not among the allowed providers.",
            param="preferred_providers",
        )


async def model_info(kernel: Kernel, fields: Mapping[str, Any]) -> list[ModelInfo]:
    """The routes that can serve the chatbot's model under its constraints (may be empty)."""
    allowed: list[str] = fields["allowed_providers"]
    region: str | None = fields["required_region"]
    found: list[ModelInfo] = []
    for provider in kernel.components.providers:
        if not provider.healthy or (allowed and provider.name not in allowed):
            continue
        if region and provider.region != region:
            continue
        found += [
            m
            for m in await provider.list_models()
            if m.id == fields["model"] and "generate" in m.tasks
        ]
    return found


async def check_config(kernel: Kernel, fields: Mapping[str, Any]) -> None:
    """InvalidRequestError (400) unless the config in ``fields`` can be served."""
    providers = kernel.components.providers
    _check_providers({p.name for p in providers}, fields)
    if await model_info(kernel, fields):
        return
    anywhere = await model_info(
        kernel, {**fields, "allowed_providers": [], "required_region": None}
    )
    model = fields["model"]
    if not anywhere:
        raise InvalidRequestError(
            f"The model `{model}` is not served for chat by any available provider.",
            param="model",
            code="model_not_found",
        )
    raise InvalidRequestError(
        f"The model `{model}` is served only by {', '.join(sorted({m.provider for m in anywhere}))}"
        " in region(s) "
        f"{', '.join(sorted({m.region for m in anywhere}))}, outside this chatbot's allowed "
        "providers or required region.",
        param="model",
        code="model_unreachable",
    )


def merged(chatbot: Chatbot, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The config ``chatbot`` would have after ``changes``."""
    fields = {name: getattr(chatbot, name) for name in chatbot.__struct_fields__}
    return {**fields, **changes}
