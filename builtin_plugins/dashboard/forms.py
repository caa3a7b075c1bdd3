"""What every page that changes something does first: the signed-in writer (CSRF checked), and
the submitted form read as text fields and lists."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from builtin_plugins.dashboard.session import Viewer, load_viewer, verify_csrf
from kernel.runtime import Kernel

__all__ = ["Form", "read_form", "split_list", "writer"]

_SEPARATORS = re.compile(r"[,\n]")


def split_list(text: str) -> list[str]:
    """Comma- or line-separated items, blanks dropped."""
    return [item.strip() for item in _SEPARATORS.split(text) if item.strip()]


class Form:
    """A submitted form: single text fields (stripped) and repeated fields (checkboxes)."""

    def __init__(self, single: dict[str, str], multi: dict[str, list[str]]) -> None:
        self._single = single
        self._multi = multi

    def text(self, name: str) -> str:
        return self._single.get(name, "")

    def has(self, name: str) -> bool:
        return name in self._single

    def values(self, name: str) -> list[str]:
        """Every value sent under ``name`` (checked boxes, multiple selects)."""
        return self._multi.get(name, [])

    def fields(self) -> dict[str, str]:
        return dict(self._single)


async def read_form(request: Request[Any, Any, Any]) -> Form:
    form = await request.form()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            single[name] = value.strip()
            multi.setdefault(name, []).append(value.strip())
    return Form(single, multi)


async def writer(request: Request[Any, Any, Any], kernel: Kernel) -> Viewer:
    """The signed-in user of a state-changing request whose CSRF token is right."""
    viewer = await load_viewer(request)
    await verify_csrf(kernel, request, f"session:{viewer.token}")
    return viewer
