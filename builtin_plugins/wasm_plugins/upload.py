"""Installing an uploaded plugin archive: validated, written, compiled, never executed outside
the sandbox. The archive is a zip holding exactly ``plugin.toml`` and the component it names."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

from builtin_plugins.wasm_plugins.host import WasmHost
from builtin_plugins.wasm_plugins.registry import Installed, inspect_folder
from kernel.errors import ConfigError, ConflictError, InvalidRequestError, PayloadTooLargeError
from kernel.sandbox.manifest import parse_manifest

__all__ = ["COMPONENT_MAGIC", "install_archive"]

COMPONENT_MAGIC = b"\x00asm\x0d\x00\x01\x00"
"""A WebAssembly component's header (a core module or a native artefact is refused)."""


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


def _write(directory: Path, text: str, name: str, wasm_name: str, wasm: bytes) -> Installed:
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".upload-"))
    (staging / "plugin.toml").write_text(text, encoding="utf-8")
    (staging / wasm_name).write_bytes(wasm)
    try:
        staging.rename(directory / name)
        return inspect_folder(directory / name)
    except (OSError, ConfigError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidRequestError(f"The plugin cannot be installed: {exc}") from None


async def install_archive(host: WasmHost, archive: bytes) -> Installed:
    """Install ``archive`` into the plugins folder (disabled) and load it into the sandbox."""
    limit = host.settings.max_upload_bytes
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
    if manifest.name in host.plugins or manifest.name in host.kernel.plugins.names:
        raise ConflictError(f"A plugin named '{manifest.name}' is already installed.")
    installed = await asyncio.to_thread(
        _write, Path(host.settings.directory), text, manifest.name, manifest.wasm, wasm
    )
    await host.load(installed)
    if installed.error is not None:
        await asyncio.to_thread(shutil.rmtree, installed.folder, ignore_errors=True)
        raise InvalidRequestError(f"The component does not load: {installed.error}")
    host.plugins[installed.name] = installed
    return installed
