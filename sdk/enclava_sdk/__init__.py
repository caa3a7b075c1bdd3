"""Enclava plugin SDK: write a plugin in Python, build it into a sandboxed WebAssembly component.

See ``sdk/README.md``: ``enclava plugin new``, ``build``, ``test``, ``execute`` and ``@schedule``,
and the ABI table.
"""

from enclava_sdk.host import HostError, HttpResponse
from enclava_sdk.plugin import BasePlugin, Schedule, chat_filter, endpoint, schedule
from enclava_sdk.types import Caller, Context, FilterContext, PluginError, Request, Response

__all__ = [
    "ABI_VERSION",
    "BasePlugin",
    "Caller",
    "Context",
    "FilterContext",
    "HostError",
    "HttpResponse",
    "PluginError",
    "Request",
    "Response",
    "Schedule",
    "chat_filter",
    "endpoint",
    "schedule",
]

ABI_VERSION = "0.1.0"
