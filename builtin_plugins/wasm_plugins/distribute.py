"""Uploaded plugins on every replica: the archive is kept in SQL (``wasm_plugin_archives``),
announced on the KV channel ``wasm_plugins.archives`` and re-read every
``plugins.resync_seconds`` (the fallback without Redis).

Each replica reconciles its plugins folder with the stored archives: it installs an archive it
lacks (sha256 checked, unpacked atomically, registered disabled until an admin's approval
reaches it like any setting), replaces one whose archive changed, and removes a plugin whose
archive is gone. A replica started later does the same at boot. An archive that no longer
hashes to its recorded sha256, or that is not a valid plugin, is refused (logged and audited
once per sha256), never installed. Folders without :data:`ARCHIVE_MARKER` are the operator's:
never installed over, never removed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import msgspec

from builtin_plugins.wasm_plugins.archives import (
    StoredArchive,
    archive_digests,
    delete_archive,
    load_archive,
    save_archive,
    sha256_of,
)
from builtin_plugins.wasm_plugins.host import SECTION, WasmHost, host_of
from builtin_plugins.wasm_plugins.registry import ARCHIVE_MARKER, Installed, inspect_folder
from builtin_plugins.wasm_plugins.settings import WasmPluginsSettings
from builtin_plugins.wasm_plugins.upload import install_archive, read_archive, unpack_archive
from kernel.audit import event_from_context
from kernel.errors import ConfigError, ConflictError, EnclavaError
from kernel.plugin_runtime import PluginRuntime
from kernel.runtime import Kernel, resync_interval
from kernel.types import AuditEvent, BackgroundTask

__all__ = ["CHANNEL", "ArchiveSync", "Change"]

log = logging.getLogger(__name__)
CHANNEL = "wasm_plugins.archives"


class Change(msgspec.Struct, frozen=True):
    """An announcement: the archive of ``name`` was stored (``sha256``) or removed (None)."""

    name: str
    sha256: str | None


class ArchiveSync(PluginRuntime[WasmPluginsSettings]):
    """One kernel's side of archive distribution."""

    section = SECTION
    schema = WasmPluginsSettings
    channel = CHANNEL

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self._lock = asyncio.Lock()
        self._refused: set[tuple[str, str]] = set()
        """(name, sha256) of archives refused here: audited once, not again every resync."""
        self._unaudited: list[AuditEvent] = []
        """Refusals not audited yet: at boot the audit sinks are not collected yet."""

    @property
    def host(self) -> WasmHost:
        return host_of(self.kernel)

    def background_tasks(self) -> list[BackgroundTask]:
        """The periodic reconcile (what a lost or absent announcement would have brought) and
        the audit of refusals made at boot (within a second)."""
        return [
            BackgroundTask(
                name="wasm-plugins-archives",
                interval=resync_interval(self.kernel.settings),
                run=self.reconcile,
                run_at_start=False,
            ),
            BackgroundTask(name="wasm-plugins-refusals", interval=1.0, run=self.audit_refusals),
        ]

    async def audit_refusals(self) -> None:
        """Write the audit events of refusals not audited yet."""
        while self._unaudited:
            await self.kernel.audit(self._unaudited[0])
            self._unaudited.pop(0)

    async def on_changed(self, message: bytes) -> None:
        await self.reconcile()

    async def upload(self, archive: bytes) -> Installed:
        """Install ``archive`` here (validated and loaded), store it for every replica and
        announce it; nothing is kept when either step fails."""
        digest = sha256_of(archive)
        async with self._lock:  # a reconcile meanwhile would remove the unstored folder
            installed = await install_archive(self.host, archive, digest)
            try:
                await save_archive(self.kernel.stores.db, installed.name, archive)
            except BaseException:
                await self.host.forget(installed.name)
                raise
        await self.publish(msgspec.json.encode(Change(installed.name, digest)))
        return installed

    async def remove(self, name: str) -> Installed:
        """Remove an uploaded plugin from every replica, with its enabled flag, approval and
        configuration (a later upload of the same name starts disabled and unapproved)."""
        installed = self.host.installed(name)
        if installed.archive is None:
            raise ConflictError(
                f"Plugin '{name}' was installed by the operator: remove its folder instead."
            )
        async with self._lock:
            await delete_archive(self.kernel.stores.db, name)
            await self.host.forget(name)
        settings = self.host.settings
        await self.kernel.update_section(
            SECTION,
            {
                "enabled": [n for n in settings.enabled if n != name],
                "approved": {n: d for n, d in settings.approved.items() if n != name},
                "config": {n: c for n, c in settings.config.items() if n != name},
            },
        )
        await self.publish(msgspec.json.encode(Change(name, None)))
        return installed

    async def reconcile(self) -> None:
        """Make this replica's uploaded plugins exactly the stored archives."""
        async with self._lock:
            stored = await archive_digests(self.kernel.stores.db)
            host = self.host
            for name, installed in list(host.plugins.items()):
                if installed.archive is not None and stored.get(name) != installed.archive:
                    log.info("sandboxed plugin '%s': its archive was removed or replaced", name)
                    await host.forget(name)
            added = False
            for name, digest in sorted(stored.items()):
                if (name, digest) in self._refused:
                    continue
                if name not in host.plugins:
                    added = await self._install(name) or added
                elif host.plugins[name].archive is None:
                    self._refuse(name, digest, "an operator's plugin has that name")
        if added:
            await host.sync()

    async def _install(self, name: str) -> bool:
        stored = await load_archive(self.kernel.stores.db, name)
        if stored is None:
            return False  # removed since the digests were read
        folder = Path(self.host.settings.directory) / name
        marker = folder / ARCHIVE_MARKER
        if folder.exists() and not marker.is_file():
            self._refuse(name, stored.sha256, f"an operator's plugin folder {folder} has that name")
            return False
        if not stored.intact:
            self._refuse(name, stored.sha256, "the stored archive does not match its sha256")
            return False
        try:
            installed = await self._unpack(stored, folder)
        except EnclavaError as exc:
            self._refuse(name, stored.sha256, exc.message)
            return False
        self.host.plugins[name] = installed
        log.info("sandboxed plugin '%s' installed from its stored archive", name)
        return True

    async def _unpack(self, stored: StoredArchive, folder: Path) -> Installed:
        marker = folder / ARCHIVE_MARKER
        if marker.is_file() and marker.read_text(encoding="ascii").strip() == stored.sha256:
            try:  # a plugins folder shared with the replica that unpacked it
                return await asyncio.to_thread(inspect_folder, folder)
            except (ConfigError, OSError):
                pass  # unpacked again below
        unpacked = read_archive(stored.archive, self.host.settings.max_upload_bytes)
        if unpacked.manifest.name != stored.name:
            raise ConflictError(f"the archive holds plugin '{unpacked.manifest.name}'")
        return await unpack_archive(self.host, unpacked, stored.sha256)

    def _refuse(self, name: str, sha256: str, reason: str) -> None:
        """Never install this archive here; logged now, audited by :meth:`audit_refusals`."""
        self._refused.add((name, sha256))
        log.error("sandboxed plugin '%s' not installed: %s", name, reason)
        details: dict[str, Any] = {"reason": reason, "sha256": sha256}
        self._unaudited.append(
            event_from_context(
                None,
                action="wasm_plugin.refused",
                outcome="failure",
                resource_type="wasm_plugin",
                resource_id=name,
                details=details,
            )
        )
