"""``is_unreachable``: the errors PostgreSQL gives while stopping or starting mean 503, not 500;
checked on asyncpg's real exception classes, bare and as SQLAlchemy's asyncpg dialect wraps them."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from kernel.storage.sql import is_unreachable

GONE = [
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CrashShutdownError("terminating connection due to crash of another"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
    asyncpg.exceptions.ConnectionFailureError("connection failure"),
]
STATEMENT_ERRORS = [
    asyncpg.exceptions.UniqueViolationError("duplicate key value"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.exceptions.UndefinedTableError('relation "nope" does not exist'),
]


def _as_sqlalchemy_raises(error: Exception) -> DBAPIError:
    """What SQLAlchemy's asyncpg dialect raises for ``error``: its translated DBAPI error,
    caused by the asyncpg one, wrapped in a ``DBAPIError`` subclass."""
    dbapi = AsyncAdapt_asyncpg_dbapi(asyncpg)
    translated = dbapi._asyncpg_error_translate
    adapted_class = next(translated[c] for c in type(error).__mro__ if c in translated)
    adapted = adapted_class(str(error), error)
    adapted.__cause__ = error
    wrapped = DBAPIError.instance("SELECT 1", {}, adapted, dbapi.Error)
    assert isinstance(wrapped, DBAPIError)
    return wrapped


@pytest.mark.parametrize("error", GONE, ids=lambda e: type(e).__name__)
def test_a_server_stopping_or_starting_is_unreachable(error: Exception) -> None:
    assert is_unreachable(error)
    assert is_unreachable(_as_sqlalchemy_raises(error))


@pytest.mark.parametrize("error", STATEMENT_ERRORS, ids=lambda e: type(e).__name__)
def test_a_bad_statement_is_not_unreachable(error: Exception) -> None:
    assert not is_unreachable(error)
    assert not is_unreachable(_as_sqlalchemy_raises(error))
