"""The post-auth check of the public surface: the key's allowed IPs.

Scopes and allowed models are declared on the routes and enforced by the kernel gate before this
check runs (:mod:`kernel.access`). Only ``api_key`` principals are checked. Refusals are 403s,
audited as ``api_key.denied`` (they are rare; a key used from an unexpected address is worth a
record).
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from litestar import Request

from kernel.audit import event_from_context
from kernel.errors import PermissionDeniedError
from kernel.runtime import Kernel
from kernel.types import ApiSurface, CheckPhase, RequestContext

__all__ = ["KeyRestrictionsCheck", "address_allowed"]

Network = IPv4Network | IPv6Network
_MAX_MEMO = 4096


def _address(value: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(value)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_allowed(client_ip: str, networks: Sequence[Network]) -> bool:
    """True when ``client_ip`` is inside one of ``networks`` (an unparsable address is not)."""
    address = _address(client_ip)
    return address is not None and any(address in network for network in networks)


def _bounded_put(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MAX_MEMO:
        memo.clear()
    memo[key] = value


class KeyRestrictionsCheck:
    """IP restrictions of API keys, fail closed."""

    name = "api_keys.restrictions"
    order = 10
    phase: CheckPhase = "post_auth"
    surfaces: frozenset[ApiSurface] = frozenset({"public"})

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._networks: dict[tuple[str, ...], tuple[Network, ...]] = {}
        self._verdicts: dict[tuple[str, tuple[str, ...]], bool] = {}

    async def check(self, request: Request[Any, Any, Any], context: RequestContext) -> None:
        principal = context.principal
        if principal is None or principal.kind != "api_key":
            return
        cidrs: tuple[str, ...] = principal.attributes.get("allowed_ips") or ()
        if cidrs and not self._ip_allowed(context.client_ip, cidrs):
            await self._deny(context, "ip_not_allowed")
            raise PermissionDeniedError(
                "This API key may not be used from your IP address.", code="ip_not_allowed"
            )

    def _ip_allowed(self, client_ip: str, cidrs: tuple[str, ...]) -> bool:
        # Parsing addresses costs microseconds; verdicts and networks are memoised (bounded).
        verdict = self._verdicts.get((client_ip, cidrs))
        if verdict is None:
            networks = self._networks.get(cidrs)
            if networks is None:
                networks = tuple(ip_network(cidr, strict=False) for cidr in cidrs)
                _bounded_put(self._networks, cidrs, networks)
            verdict = address_allowed(client_ip, networks)
            _bounded_put(self._verdicts, (client_ip, cidrs), verdict)
        return verdict

    async def _deny(self, context: RequestContext, reason: str, **details: Any) -> None:
        principal = context.principal
        await self._kernel.audit(
            event_from_context(
                context,
                action="api_key.denied",
                outcome="denied",
                resource_type="api_key",
                resource_id=principal.id if principal else None,
                details={"reason": reason, **details},
            )
        )
