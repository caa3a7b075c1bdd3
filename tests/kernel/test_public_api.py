"""``kernel`` is the plugins' public API: every name in its ``__all__`` imports from it, and
names that moved keep working from their old module for one minor version."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

import kernel
from kernel import exchange, upstream

MOVED = [
    *((name, exchange) for name in ("ChatFilter", "Exchange", "ExchangeGuard", "TokenUsage")),
    *((name, exchange) for name in ("UsageRecord", "UsageSink")),
    *((name, upstream) for name in upstream.__all__),
]


@pytest.mark.parametrize("name", kernel.__all__)
def test_every_public_name_imports_from_kernel(name: str) -> None:
    value = getattr(kernel, name)
    module = importlib.import_module(kernel._WHERE[name])
    assert value is getattr(module, name)
    assert name in dir(kernel)


def test_the_public_api_covers_what_plugins_use() -> None:
    for name in ("hookimpl", "Kernel", "RouteSet", "Exchange", "ChatGateway", "service"):
        assert name in kernel.__all__


@pytest.mark.parametrize(("name", "module"), MOVED, ids=[name for name, _ in MOVED])
def test_moved_names_still_import_from_kernel_types_with_a_warning(name: str, module: Any) -> None:
    moved = f"kernel.types.{name} moved to {module.__name__}"
    with pytest.warns(DeprecationWarning, match=moved):
        from_types = getattr(importlib.import_module("kernel.types"), name)
    assert from_types is getattr(module, name)
    assert getattr(kernel, name) is from_types


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError):
        _ = kernel.NoSuchThing  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = importlib.import_module("kernel.types").NoSuchThing
