"""Request rate limits per API key, per user and per client IP, exact across replicas."""

from __future__ import annotations

from builtin_plugins.rate_limit.check import RateLimitCheck
from builtin_plugins.rate_limit.settings import RateLimitSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RequestCheck, SettingsSection

__all__ = ["PLUGIN_NAME", "VERSION", "enclava_request_checks", "enclava_settings_schema"]

PLUGIN_NAME = "rate_limit"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[rate_limit]`` section (``ENCLAVA_RATE_LIMIT_*``)."""
    return SettingsSection(name="rate_limit", schema=RateLimitSettings)


@hookimpl
def enclava_request_checks(kernel: Kernel) -> list[RequestCheck]:
    """The rate-limit check, built with the current settings (rebuilt when they change)."""
    return [RateLimitCheck(kernel, kernel.settings.section("rate_limit", RateLimitSettings))]
