"""Enclava plugin SDK: write a plugin in Python, build it into a sandboxed WebAssembly component.

See ``sdk/README.md``: ``enclava plugin new``, ``build``, ``test``, and the ABI table.
"""

from enclava_sdk.host import HostError, HttpResponse
from enclava_sdk.plugin import BasePlugin, chat_filter, endpoint
from enclava_sdk.types import Caller, FilterContext, PluginError, Request, Response

__all__ = [
    "ABI_VERSION",
    "BasePlugin",
    "Caller",
    "FilterContext",
    "HostError",
    "HttpResponse",
    "PluginError",
    "Request",
    "Response",
    "chat_filter",
    "endpoint",
]

ABI_VERSION = "0.1.0"
