"""The shipped ``hello`` plugin built once per session (componentize-py output cached by source
digest in ``.cache/enclava/wasm``, native code in ``.cache/enclava/native``) and zipped as an
upload archive."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from builtin_plugins.wasm_plugins.build import build_plugin

REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / ".cache" / "enclava"


@pytest.fixture(scope="session")
def hello_archive() -> bytes:
    """A zip of ``plugins/hello``'s ``plugin.toml`` and built ``plugin.wasm``."""
    folder = REPO / "plugins" / "hello"
    build_plugin(folder, CACHE / "wasm")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("plugin.toml", "plugin.wasm"):
            archive.writestr(name, (folder / name).read_bytes())
    return buffer.getvalue()


@pytest.fixture
def plugin_dirs(tmp_path: Path) -> dict[str, dict[str, str]]:
    """Settings of two replicas, each with a plugins folder of its own."""
    return {
        replica: {
            "ENCLAVA_WASM_PLUGINS_DIRECTORY": str(tmp_path / replica / "plugins"),
            "ENCLAVA_WASM_PLUGINS_CACHE_DIR": str(CACHE / "native"),
        }
        for replica in ("a", "b", "c")
    }
