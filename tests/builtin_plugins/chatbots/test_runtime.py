"""The conversation store is published before the kernel's stores open (CLI commands look
services up on a kernel that never starts)."""

from __future__ import annotations

from typing import Any

from kernel.plugins import PluginManager
from kernel.runtime import Kernel
from kernel.services import ConversationStore


def test_the_service_is_available_on_a_kernel_that_has_not_started(make_settings: Any) -> None:
    kernel = Kernel(make_settings(), PluginManager(load_entry_points=False))
    assert isinstance(kernel.service(ConversationStore), ConversationStore)
