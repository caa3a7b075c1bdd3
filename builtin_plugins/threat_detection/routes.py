"""``/api-internal/v1/security``: list and lift blocks (admins only, every action audited)."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import msgspec
from litestar import Request, delete, get
from litestar.params import FromPath

from builtin_plugins.threat_detection.blocks import BlockEntry, Blocks, Subject
from builtin_plugins.threat_detection.policy import normalise_ip
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.gate import request_context
from kernel.roles import require_role
from kernel.runtime import Kernel

__all__ = ["SECURITY_ROUTES", "ActiveBlock", "BlockList", "Unblocked"]

_ADMIN = {"enclava_role": "admin"}
_ACCOUNT = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


class ActiveBlock(msgspec.Struct, frozen=True):
    """One active block; ``expires_in`` in whole seconds."""

    reason: str
    blocked_at: float
    expires_in: int
    ip: str | None = None
    account: str | None = None


class BlockList(msgspec.Struct, frozen=True):
    """Blocked IPs (``data``) and accounts flagged for credential stuffing."""

    data: list[ActiveBlock]
    accounts: list[ActiveBlock]


class Unblocked(msgspec.Struct, frozen=True):
    """The block that was lifted."""

    ip: str | None = None
    account: str | None = None
    unblocked: bool = True


def _blocks(request: Request[Any, Any, Any], kernel: Kernel) -> Blocks:
    # auth's RoleCheck enforces the opt; repeating it here fails closed if it ever goes missing.
    context = request_context(request.scope)
    require_role(context.principal if context else None, "admin")
    return Blocks(kernel.stores.kv)


def _view(subject: Subject, entry: BlockEntry, now: float) -> ActiveBlock:
    expires_in = max(0, math.ceil(entry.until - now))
    if subject == "ip":
        return ActiveBlock(entry.reason, entry.since, expires_in, ip=entry.subject)
    return ActiveBlock(entry.reason, entry.since, expires_in, account=entry.subject)


@get("/security/blocks", opt=_ADMIN)
async def list_blocks(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> BlockList:
    """Active IP blocks and account flags on every replica, soonest-ending first."""
    blocks = _blocks(request, kernel)
    now = time.time()
    return BlockList(
        data=[_view("ip", entry, now) for entry in await blocks.active("ip")],
        accounts=[_view("account", entry, now) for entry in await blocks.active("account")],
    )


async def _lift(
    request: Request[Any, Any, Any], kernel: Kernel, subject: Subject, value: str
) -> None:
    blocks = _blocks(request, kernel)
    if not await blocks.is_blocked(subject, value):
        raise NotFoundError(f"No active block for this {subject}.")
    # Audited first: if the audit log cannot record it, the block stays.
    await kernel.audit(
        event_from_context(
            request_context(request.scope),
            action="security.unblock",
            outcome="success",
            resource_type=subject,
            resource_id=value,
        )
    )
    await blocks.lift(subject, value)


@delete("/security/blocks/{ip:str}", opt=_ADMIN, status_code=200)
async def unblock_ip(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], ip: FromPath[str]
) -> Unblocked:
    """Lift an IP block now, on every replica, and reset its failure counters."""
    address = normalise_ip(ip)
    if address is None:
        raise InvalidRequestError("Not an IP address.", param="ip")
    await _lift(request, kernel, "ip", address)
    return Unblocked(ip=address)


@delete("/security/accounts/{account:str}", opt=_ADMIN, status_code=200)
async def unflag_account(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], account: FromPath[str]
) -> Unblocked:
    """Lift a credential-stuffing flag from an account (user id or email hash)."""
    if not _ACCOUNT.match(account):
        raise InvalidRequestError("Not an account id.", param="account")
    await _lift(request, kernel, "account", account)
    return Unblocked(account=account)


SECURITY_ROUTES = (list_blocks, unblock_ip, unflag_account)
