"""Cron schedules of sandboxed plugins: each (plugin, schedule, fire time) runs on one replica.

Every replica ticks once a second and looks at the fire times since its previous tick (none
older than :data:`MISFIRE_GRACE`) of each active plugin. A replica runs a fire time only after
claiming it in the shared KV with one set-if-absent (key ``wasm-schedule:<plugin>:<schedule>:
<unix seconds>``, TTL :data:`CLAIM_TTL_SECONDS`), so replicas racing for it run it once between
them. The run is an ordinary ``schedule`` call: same deadline, memory cap, instance pool and
trap policy as a request. A failed run is written to the plugin's log, the gateway log (the
reason, never the guest's message) and the audit trail (``wasm_plugin.schedule``); it is not
retried, and the next fire time runs as usual. A replica's first tick only starts its clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
from cronsim import CronSim

from builtin_plugins.wasm_plugins.answers import CallerView
from builtin_plugins.wasm_plugins.execute import ActionCall
from builtin_plugins.wasm_plugins.host import WasmHost, host_of
from kernel.audit import event_from_context
from kernel.errors import EnclavaError
from kernel.logs import new_request_id
from kernel.runtime import Kernel
from kernel.sandbox import CallFailed
from kernel.stash import StashKey
from kernel.types import BackgroundTask

__all__ = [
    "CLAIM_TTL_SECONDS",
    "MISFIRE_GRACE",
    "Fire",
    "Scheduler",
    "claim_key",
    "fire_times",
    "scheduler_of",
]

log = logging.getLogger(__name__)
MISFIRE_GRACE = timedelta(minutes=5)
"""A fire time this much older than a tick is skipped (a replica that was stalled)."""
CLAIM_TTL_SECONDS = 3600.0
"""How long a claim is kept: well beyond the grace plus the longest call (60 s)."""
TICK_SECONDS = 1.0


class Fire(msgspec.Struct, frozen=True):
    """One fire time of one plugin's schedule."""

    plugin: str
    schedule: str
    at: datetime


def fire_times(cron: str, after: datetime, until: datetime) -> list[datetime]:
    """The times of ``cron`` in ``(after, until]`` (UTC)."""
    times: list[datetime] = []
    for moment in CronSim(cron, after.astimezone(UTC)):
        if moment > until:
            break
        times.append(moment)
    return times


def claim_key(fire: Fire) -> str:
    """The KV key one replica sets to own ``fire``."""
    return f"wasm-schedule:{fire.plugin}:{fire.schedule}:{int(fire.at.timestamp())}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """The schedules of one kernel's sandboxed plugins."""

    def __init__(self, host: WasmHost) -> None:
        self.host = host
        self.clock: Callable[[], datetime] = _utc_now
        """The wall clock fire times are read from (tests swap it)."""
        self.replica = uuid.uuid4().hex
        self._last: datetime | None = None

    def background_task(self) -> BackgroundTask:
        return BackgroundTask(name="wasm-plugins-schedules", interval=TICK_SECONDS, run=self._tick)

    async def _tick(self) -> None:
        await self.tick()

    def due(self, after: datetime, until: datetime) -> list[Fire]:
        """Fire times in ``(after, until]``, within the grace, of every active plugin."""
        start = max(after, until - MISFIRE_GRACE)
        return [
            Fire(installed.name, spec.name, at)
            for installed in self.host.plugins.values()
            if installed.manifest.schedules and self.host.status(installed) == "active"
            for spec in installed.manifest.schedules
            for at in fire_times(spec.cron, start, until)
        ]

    async def tick(self, now: datetime | None = None) -> list[Fire]:
        """Run the fire times since the previous tick up to ``now`` (default: the clock) that
        this replica claims; returns them. A clock going backwards runs nothing."""
        now = self.clock() if now is None else now
        previous = self._last
        self._last = now if previous is None else max(previous, now)
        if previous is None or now <= previous:
            return []
        kv = self.host.kernel.stores.kv
        claimed = [
            fire
            for fire in self.due(previous, now)
            if await kv.compare_and_set(
                claim_key(fire), expected=None, value=self.replica.encode(), ttl=CLAIM_TTL_SECONDS
            )
        ]
        results = await asyncio.gather(*(self._run(f) for f in claimed), return_exceptions=True)
        for fire, result in zip(claimed, results, strict=True):
            if isinstance(result, BaseException):
                log.error("scheduled run of '%s' was not recorded: %r", fire.plugin, result)
        return claimed

    async def _run(self, fire: Fire) -> None:
        call = ActionCall(
            caller=CallerView("plugin", fire.plugin, f"plugin:{fire.plugin}"),
            request_id=new_request_id(),
            schedule=fire.schedule,
            fire_time=fire.at,
        )
        try:
            answer = await self.host.call(
                fire.plugin, "schedule", msgspec.json.encode(call).decode()
            )
        except CallFailed as exc:
            await self._failed(fire, exc.reason)
            return
        except EnclavaError as exc:  # unloaded or disabled since the tick began
            await self._failed(fire, exc.code or exc.error_type)
            return
        status = _status_of(answer)
        if status >= 400:
            plugin = self.host.installed(fire.plugin).plugin
            if plugin is not None:
                plugin.logs.write("error", f"schedule {fire.schedule} answered status {status}")
            await self._failed(fire, f"status {status}")

    async def _failed(self, fire: Fire, reason: str) -> None:
        log.warning(
            "scheduled run of plugin '%s' (%s at %s) failed: %s",
            fire.plugin,
            fire.schedule,
            fire.at.isoformat(),
            reason,
        )
        await self.host.kernel.audit(
            event_from_context(
                None,
                action="wasm_plugin.schedule",
                outcome="failure",
                resource_type="wasm_plugin",
                resource_id=fire.plugin,
                details={
                    "schedule": fire.schedule,
                    "fire_time": fire.at.isoformat(),
                    "reason": reason,
                },
            )
        )


def _status_of(answer: str) -> int:
    try:
        return int(json.loads(answer).get("status", 200))
    except (ValueError, TypeError, AttributeError):
        return 502


SCHEDULER_KEY: StashKey[Scheduler] = StashKey()


def scheduler_of(kernel: Kernel) -> Scheduler:
    """The kernel's scheduler, created on first use."""
    scheduler = kernel.stash.get(SCHEDULER_KEY)
    if scheduler is None:
        scheduler = Scheduler(host_of(kernel))
        kernel.stash[SCHEDULER_KEY] = scheduler
    return scheduler
