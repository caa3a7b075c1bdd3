"""The audit sink fails closed: with SQL down, ``kernel.audit`` raises instead of dropping."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import make_url
from support.tcp_proxy import TcpProxy

from builtin_plugins.audit.filters import parse_filter
from builtin_plugins.audit.store import AuditStore
from kernel.app import create_app
from kernel.errors import StoreUnavailableError
from kernel.types import AuditEvent


async def test_sql_down_raises_store_unavailable(
    make_settings: Any, running: Any, postgres_url: str
) -> None:
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(make_settings(proxied))
    event = AuditEvent(action="demo.durable", outcome="success", ip="192.0.2.9")
    async with running(app):
        kernel = app.state.kernel
        await kernel.audit(event)
        await proxy.stop()
        with pytest.raises(StoreUnavailableError) as raised:
            await kernel.audit(event)
        assert raised.value.store == "sql"
        await proxy.start()
        await kernel.audit(event)
        page = await AuditStore(kernel.stores.db).page(
            parse_filter(action="demo.durable"), limit=10, offset=0, before_id=None
        )
    assert page.total == 2
