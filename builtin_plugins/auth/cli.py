"""``enclava admin create``: the first super admin (there is no self-registration).

Runs without a serving kernel: it migrates, opens only the database, and reads the password from
stdin so it never appears in the process list or shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from builtin_plugins.auth.passwords import Passwords, check_password_policy
from builtin_plugins.auth.settings import auth_settings
from builtin_plugins.auth.users import create_user
from kernel.errors import ConflictError, InvalidRequestError
from kernel.operations import run_migrations
from kernel.roles import ROLES, Role
from kernel.runtime import Kernel
from kernel.storage.stores import open_sql
from kernel.types import CliCommand

__all__ = ["admin_command"]

EXIT_OK, EXIT_FAILURE = 0, 1


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="Create a user (by default the first super admin).")
    create.add_argument("--email", required=True, help="the user's email address")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from stdin (one line; the trailing newline is dropped)",
    )
    create.add_argument("--role", choices=ROLES, default="super_admin", help="default super_admin")
    create.add_argument("--config", metavar="FILE", help="TOML settings file")


async def _create(kernel: Kernel, email: str, password: str, role: Role) -> str:
    await run_migrations(kernel.settings, kernel.plugins)
    password_hash = await asyncio.to_thread(Passwords().hash, password)
    db = open_sql(kernel.settings)
    try:
        user = await create_user(db, email=email, password_hash=password_hash, role=role)
    finally:
        await db.close()
    return user.id


def _run(kernel: Kernel, args: argparse.Namespace) -> int:
    password = sys.stdin.read().rstrip("\r\n")
    settings = auth_settings(kernel.settings)
    try:
        if not password:
            raise InvalidRequestError("no password on stdin")
        check_password_policy(password, min_length=settings.password_min_length)
        user_id = asyncio.run(_create(kernel, args.email, password, args.role))
    except ConflictError:
        print(f"enclava: a user with the email {args.email!r} already exists", file=sys.stderr)
        return EXIT_FAILURE
    except InvalidRequestError as exc:
        print(f"enclava: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    print(user_id)
    return EXIT_OK


def admin_command(kernel: Kernel) -> CliCommand:
    """``enclava admin create --email E --password-stdin [--role R]``."""
    return CliCommand(
        name="admin",
        help="Manage users from the command line (create the first super admin).",
        configure=_configure,
        run=lambda args: _run(kernel, args),
    )
