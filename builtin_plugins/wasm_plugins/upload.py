"""Installing a plugin archive: validated, unpacked, compiled, never executed outside the
sandbox. The archive is a zip holding exactly ``plugin.toml`` and the component it names.

An upload is installed and loaded here first (so a component that does not match its manifest
is refused at once); :mod:`~builtin_plugins.wasm_plugins.distribute` stores it for the other
replicas, which unpack the same archive with :func:`unpack_archive`.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from builtin_plugins.wasm_plugins.host import WasmHost
from builtin_plugins.wasm_plugins.registry import ARCHIVE_MARKER, Installed, inspect_folder
from kernel.errors import ConfigError, ConflictError, InvalidRequestError, PayloadTooLargeError
from kernel.sandbox.manifest import Manifest, parse_manifest

__all__ = ["COMPONENT_MAGIC", "Unpacked", "install_archive", "read_archive", "unpack_archive"]

COMPONENT_MAGIC = b"\x00asm\x0d\x00\x01\x00"
"""A WebAssembly component's header (a core module or a native artefact is refused)."""


@dataclass(frozen=True, slots=True)
class Unpacked:
    """A validated archive's contents."""

    manifest: Manifest
    text: str
    wasm: bytes


def _read(archive: bytes, limit: int) -> tuple[str, dict[str, bytes]]:
    try:
        bundle = zipfile.ZipFile(io.BytesIO(archive))
    except zipfile.BadZipFile:
        raise InvalidRequestError("The upload is not a zip archive.") from None
    infos = bundle.infolist()
    if len(infos) != 2 or "plugin.toml" not in {i.filename for i in infos}:
        raise InvalidRequestError("The archive must hold exactly plugin.toml and one component.")
    if sum(i.file_size for i in infos) > limit:
        raise PayloadTooLargeError(f"The archive expands beyond {limit} bytes.")
    files = {i.filename: bundle.read(i) for i in infos}
    return files.pop("plugin.toml").decode("utf-8", "replace"), files


def read_archive(archive: bytes, limit: int) -> Unpacked:
    """The manifest and component of ``archive``; InvalidRequestError (or PayloadTooLargeError)
    for anything but a zip of a valid ``plugin.toml`` and the WebAssembly component it names."""
    if len(archive) > limit:
        raise PayloadTooLargeError(f"Plugin archives are limited to {limit} bytes.")
    text, files = _read(archive, limit)
    try:
        manifest = parse_manifest(text, "upload/plugin.toml")
    except ConfigError as exc:
        raise InvalidRequestError(str(exc)) from None
    wasm = files.get(manifest.wasm)
    if wasm is None or not wasm.startswith(COMPONENT_MAGIC):
        raise InvalidRequestError(f"{manifest.wasm} must be a WebAssembly component.")
    return Unpacked(manifest, text, wasm)


def _write(directory: Path, unpacked: Unpacked, archive_sha256: str, *, replace: bool) -> Installed:
    """Unpack into ``directory/<name>`` atomically (a staging folder renamed into place); with
    ``replace``, a folder left by an earlier archive is swapped out."""
    name = unpacked.manifest.name
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".upload-"))
    (staging / "plugin.toml").write_text(unpacked.text, encoding="utf-8")
    (staging / unpacked.manifest.wasm).write_bytes(unpacked.wasm)
    (staging / ARCHIVE_MARKER).write_text(archive_sha256, encoding="ascii")
    target = directory / name
    old: Path | None = None
    try:
        if replace and target.exists():
            old = Path(tempfile.mkdtemp(dir=directory, prefix=".removed-")) / name
            target.rename(old)
        staging.rename(target)
        return inspect_folder(target)
    except (OSError, ConfigError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidRequestError(f"The plugin cannot be installed: {exc}") from None
    finally:
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)


async def unpack_archive(host: WasmHost, unpacked: Unpacked, archive_sha256: str) -> Installed:
    """Unpack a stored archive into this replica's plugins folder (replacing an older copy);
    not loaded: the host loads it once it is enabled and approved."""
    directory = Path(host.settings.directory)
    return await asyncio.to_thread(_write, directory, unpacked, archive_sha256, replace=True)


async def install_archive(host: WasmHost, archive: bytes, archive_sha256: str) -> Installed:
    """Install an uploaded ``archive`` into the plugins folder (disabled) and load it into the
    sandbox, refusing it if the component does not load or match its manifest."""
    unpacked = read_archive(archive, host.settings.max_upload_bytes)
    name = unpacked.manifest.name
    if name in host.plugins or name in host.kernel.plugins.names:
        raise ConflictError(f"A plugin named '{name}' is already installed.")
    directory = Path(host.settings.directory)
    installed = await asyncio.to_thread(_write, directory, unpacked, archive_sha256, replace=False)
    await host.load(installed)
    if installed.error is not None:
        await asyncio.to_thread(shutil.rmtree, installed.folder, ignore_errors=True)
        raise InvalidRequestError(f"The component does not load: {installed.error}")
    host.plugins[installed.name] = installed
    return installed
