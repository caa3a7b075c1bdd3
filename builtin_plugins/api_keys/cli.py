"""``enclava keys create|revoke``: manage keys without a running server.

``create`` prints only the key on stdout, so ``KEY=$(enclava keys create ...)`` works. Both
commands migrate first; ``revoke`` announces the change so running replicas drop the key at once.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from builtin_plugins.api_keys import lifecycle
from builtin_plugins.api_keys.keys import PUBLIC_SCOPES, display_prefix, normalise_prefix
from builtin_plugins.api_keys.payloads import validated_settings
from builtin_plugins.api_keys.runtime import CHANGED_CHANNEL, SETTINGS_SECTION
from builtin_plugins.api_keys.settings import ApiKeysSettings, load_pepper
from builtin_plugins.api_keys.store import find_by_prefix
from kernel.operations import run_migrations
from kernel.runtime import Kernel
from kernel.services import UserDirectory
from kernel.storage.stores import open_configured_kv, open_sql
from kernel.types import CliCommand

__all__ = ["keys_command"]

EXIT_OK, EXIT_FAILURE = 0, 1
REGION = re.compile(r"[a-z0-9-]{1,16}")


def _region(value: str) -> str:
    if not REGION.fullmatch(value):
        raise argparse.ArgumentTypeError("a region is 1-16 lowercase letters, digits or hyphens")
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="Create a key for a user; prints only the key.")
    create.add_argument("--email", required=True, help="the owner's email")
    create.add_argument("--name", required=True, help="a name for the key")
    create.add_argument(
        "--scope",
        action="append",
        choices=PUBLIC_SCOPES,
        help="a scope to grant (repeatable; default: every public scope)",
    )
    create.add_argument(
        "--model", action="append", help="a model the key may use (repeatable; default: all)"
    )
    create.add_argument(
        "--region", type=_region, help="keep the key's prompts on providers in this region (eu)"
    )
    revoke = actions.add_parser("revoke", help="Revoke a key on every replica.")
    revoke.add_argument("prefix", help="the key's prefix: en_xxxxxxxxxxxx or the bare 12 chars")
    for action in (create, revoke):
        # Read by the kernel's pre-parser; declared here so the subcommand accepts it.
        action.add_argument("--config", metavar="FILE", help="TOML settings file")


async def _create(kernel: Kernel, args: argparse.Namespace) -> int:
    settings = kernel.settings
    await run_migrations(settings, kernel.plugins)
    pepper = load_pepper(settings.section(SETTINGS_SECTION, ApiKeysSettings), settings.data_dir)
    fields = validated_settings(
        {
            "name": args.name,
            "scopes": args.scope or list(PUBLIC_SCOPES),
            "allowed_models": args.model or [],
            "required_region": args.region,
        },
        regions=kernel.provider_regions(),
    )
    db = open_sql(settings)
    try:
        user = await kernel.service(UserDirectory).by_email(db, args.email)
        if user is None:
            print(f"enclava: no user with email {args.email}", file=sys.stderr)
            return EXIT_FAILURE
        _, key = await lifecycle.create_key(db, pepper, owner_id=user.id, fields=fields)
    finally:
        await db.close()
    print(key)
    return EXIT_OK


async def _revoke(kernel: Kernel, args: argparse.Namespace) -> int:
    prefix = normalise_prefix(args.prefix)
    if prefix is None:
        print(f"enclava: '{args.prefix}' is not an API key prefix", file=sys.stderr)
        return EXIT_FAILURE
    settings = kernel.settings
    await run_migrations(settings, kernel.plugins)
    db = open_sql(settings)
    kv = open_configured_kv(settings)
    try:
        found = await find_by_prefix(db, prefix)
        if found is None:
            print(f"enclava: no API key with prefix {display_prefix(prefix)}", file=sys.stderr)
            return EXIT_FAILURE
        await lifecycle.set_revoked(db, found.id, revoked=True)
        await kv.publish(CHANGED_CHANNEL, prefix.encode())
    finally:
        await kv.close()
        await db.close()
    print(f"revoked {display_prefix(prefix)}")
    return EXIT_OK


def keys_command(kernel: Kernel) -> CliCommand:
    """The ``keys`` command group for ``kernel``'s settings and plugins."""

    def run(args: argparse.Namespace) -> int:
        action = _create if args.keys_action == "create" else _revoke
        return asyncio.run(action(kernel, args))

    return CliCommand(
        name="keys", help="Create and revoke API keys.", configure=_configure, run=run
    )
