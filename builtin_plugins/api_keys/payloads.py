"""Request and response bodies of the internal API, and the validation of key settings."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import ip_network
from typing import Annotated, Any, Literal

import msgspec

from builtin_plugins.api_keys.keys import PUBLIC_SCOPES, display_prefix
from builtin_plugins.api_keys.store import KeyRecord
from kernel.errors import InvalidRequestError

__all__ = [
    "CreateKey",
    "CreatedKeyView",
    "KeyPage",
    "KeyView",
    "UpdateKey",
    "validated_settings",
    "view",
]

MAX_LIST_ITEMS = 100
MAX_NAME_CHARS = 100
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS)]
Item = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Items = Annotated[list[Item], msgspec.Meta(max_length=MAX_LIST_ITEMS)]
PerMinute = Annotated[int, msgspec.Meta(gt=0, le=1_000_000)]
Region = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{1,16}$")]
"""A provider region such as ``eu``: 1 to 16 lowercase letters, digits or hyphens."""
KeyVerification = Literal["async", "strict_trailer", "strict"]
"""A key may only tighten per-response verification (``off`` is the deployment's call)."""


class CreateKey(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``POST /api-keys``: scopes default to every public scope; empty lists allow everything.

    ``required_region`` keeps the key's prompts on providers in that region (None: any region).
    ``response_verification`` (``async``/``strict_trailer``/``strict``) verifies the key's
    answers at least that strictly, whatever the deployment's policy (None: the deployment's
    policy).
    """

    name: Name
    scopes: Items | None = None
    allowed_models: Items = []
    allowed_ips: Items = []
    allowed_chatbots: Items = []
    allowed_collections: Items = []
    required_region: Region | None = None
    response_verification: KeyVerification | None = None
    expires_at: datetime | None = None
    rate_limit_per_minute: PerMinute | None = None


class UpdateKey(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``PATCH /api-keys/{id}``: only the fields sent change; ``null`` clears expiry, limit or
    region."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    scopes: Items | msgspec.UnsetType = msgspec.UNSET
    allowed_models: Items | msgspec.UnsetType = msgspec.UNSET
    allowed_ips: Items | msgspec.UnsetType = msgspec.UNSET
    allowed_chatbots: Items | msgspec.UnsetType = msgspec.UNSET
    allowed_collections: Items | msgspec.UnsetType = msgspec.UNSET
    required_region: Region | msgspec.UnsetType | None = msgspec.UNSET
    response_verification: KeyVerification | msgspec.UnsetType | None = msgspec.UNSET
    expires_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    rate_limit_per_minute: PerMinute | msgspec.UnsetType | None = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET


class KeyView(msgspec.Struct, kw_only=True):
    """A key as the API shows it: never the key or its hash; ``prefix`` is ``en_<12>…``."""

    id: str
    name: str
    prefix: str
    owner_id: str
    scopes: list[str]
    allowed_models: list[str]
    allowed_ips: list[str]
    allowed_chatbots: list[str]
    allowed_collections: list[str]
    required_region: str | None
    response_verification: str | None
    expires_at: datetime | None
    is_active: bool
    revoked_at: datetime | None
    rate_limit_per_minute: int | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None
    object: str = "api_key"


class CreatedKeyView(KeyView, kw_only=True):
    """Create and regenerate answers: the only time ``key`` is ever shown."""

    key: str


class KeyPage(msgspec.Struct, kw_only=True):
    """One page of keys."""

    data: list[KeyView]
    total: int
    limit: int
    offset: int
    object: str = "list"


def view(record: KeyRecord) -> KeyView:
    """The public view of ``record``."""
    data = msgspec.structs.asdict(record)
    del data["key_hash"]
    data["prefix"] = display_prefix(record.prefix)
    return KeyView(**data)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in values))


def _scopes(values: list[str]) -> list[str]:
    unknown = sorted(set(values) - set(PUBLIC_SCOPES))
    if unknown:
        raise InvalidRequestError(
            f"Unknown scope '{unknown[0]}'; use any of {', '.join(PUBLIC_SCOPES)}.", param="scopes"
        )
    return _unique(values)


def _cidrs(values: list[str]) -> list[str]:
    networks: list[str] = []
    for value in values:
        try:
            networks.append(str(ip_network(value.strip(), strict=False)))
        except ValueError:
            raise InvalidRequestError(
                f"'{value}' is not an IP address or CIDR network.", param="allowed_ips"
            ) from None
    return list(dict.fromkeys(networks))


def _expiry(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if moment <= datetime.now(UTC):
        raise InvalidRequestError("expires_at must be in the future.", param="expires_at")
    return moment.astimezone(UTC)


def _known_region(region: str | None, regions: frozenset[str]) -> str | None:
    if region is not None and region not in regions:
        known = ", ".join(sorted(regions)) or "none (no provider is configured)"
        raise InvalidRequestError(
            f"Unknown region '{region}'; known regions: {known}.", param="required_region"
        )
    return region


def validated_settings(fields: dict[str, Any], *, regions: frozenset[str]) -> dict[str, Any]:
    """``fields`` (column name → value from a request) checked and normalised; a required
    region must be one of ``regions`` (the providers' configured regions)."""
    checks: dict[str, Any] = {
        "name": str.strip,
        "scopes": _scopes,
        "allowed_models": _unique,
        "allowed_ips": _cidrs,
        "allowed_chatbots": _unique,
        "allowed_collections": _unique,
        "expires_at": _expiry,
    }
    out = {name: checks[name](value) if name in checks else value for name, value in fields.items()}
    if "required_region" in out:
        _known_region(out["required_region"], regions)
    if "name" in out and not out["name"]:
        raise InvalidRequestError("name must not be blank.", param="name")
    if "name" in out and len(out["name"]) > MAX_NAME_CHARS:  # the CLI does not decode a Struct
        raise InvalidRequestError(
            f"name must be at most {MAX_NAME_CHARS} characters.", param="name"
        )
    return out
