from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from kernel.errors import ConfigError, InternalError, NotFoundError, StoreUnavailableError
from kernel.storage.files import EncryptedFileStore, FileIntegrityError, open_file_store

KEY = bytes(range(32))
PLAINTEXT = b"the quarterly numbers are confidential " * 20


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileStore:
    return EncryptedFileStore(tmp_path / "files", KEY)


def _path(store: EncryptedFileStore, file_id: str) -> Path:
    return store.root / file_id[:2] / file_id


async def test_round_trip(store: EncryptedFileStore) -> None:
    file_id = await store.put(PLAINTEXT, owner="user-1")
    assert len(file_id) == 32
    assert int(file_id, 16) >= 0
    assert await store.exists(file_id)
    assert await store.get(file_id) == PLAINTEXT
    assert await store.get(file_id, owner="user-1") == PLAINTEXT
    assert await store.put(b"", owner="") != file_id


async def test_empty_payload(store: EncryptedFileStore) -> None:
    file_id = await store.put(b"", owner="u")
    assert await store.get(file_id) == b""


async def test_delete(store: EncryptedFileStore) -> None:
    file_id = await store.put(b"x", owner="u")
    assert await store.delete(file_id)
    assert not await store.exists(file_id)
    assert not await store.delete(file_id)
    with pytest.raises(NotFoundError):
        await store.get(file_id)


async def test_ciphertext_on_disk(store: EncryptedFileStore) -> None:
    file_id = await store.put(PLAINTEXT, owner="user-1")
    blob = _path(store, file_id).read_bytes()
    assert blob.startswith(b"ENC1")
    assert b"confidential" not in blob
    assert PLAINTEXT[:16] not in blob
    leftovers = [p.name for p in _path(store, file_id).parent.iterdir()]
    assert leftovers == [file_id]


async def test_modes(store: EncryptedFileStore) -> None:
    file_id = await store.put(PLAINTEXT, owner="u")
    path = _path(store, file_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_wrong_key(store: EncryptedFileStore) -> None:
    file_id = await store.put(PLAINTEXT, owner="u")
    other = EncryptedFileStore(store.root, bytes(32))
    with pytest.raises(FileIntegrityError) as info:
        await other.get(file_id)
    assert isinstance(info.value, InternalError)
    assert info.value.message == "stored file failed its integrity check"


@pytest.mark.parametrize("offset", [0, 5, 7, 12, -1])
async def test_flipped_byte(store: EncryptedFileStore, offset: int) -> None:
    file_id = await store.put(PLAINTEXT, owner="u")
    path = _path(store, file_id)
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(FileIntegrityError):
        await store.get(file_id)


async def test_truncated(store: EncryptedFileStore) -> None:
    file_id = await store.put(PLAINTEXT, owner="u")
    path = _path(store, file_id)
    for size in (0, 3, 6, 10, 40):
        path.write_bytes(path.read_bytes()[:size])
        with pytest.raises(FileIntegrityError):
            await store.get(file_id)


async def test_bytes_moved_under_another_id_fail(store: EncryptedFileStore) -> None:
    victim = await store.put(PLAINTEXT, owner="alice")
    attacker = await store.put(b"mine", owner="mallory")
    _path(store, attacker).write_bytes(_path(store, victim).read_bytes())
    with pytest.raises(FileIntegrityError):
        await store.get(attacker)


async def test_owner_is_bound(store: EncryptedFileStore) -> None:
    file_id = await store.put(PLAINTEXT, owner="alice")
    path = _path(store, file_id)
    path.write_bytes(path.read_bytes().replace(b"alice", b"malle", 1))
    with pytest.raises(FileIntegrityError):
        await store.get(file_id)


async def test_get_for_another_owner_is_not_found(store: EncryptedFileStore) -> None:
    file_id = await store.put(PLAINTEXT, owner="alice")
    with pytest.raises(NotFoundError):
        await store.get(file_id, owner="bob")


@pytest.mark.parametrize(
    "file_id",
    [
        "",
        "../../etc/passwd",
        "0" * 31,
        "0" * 33,
        "A" * 32,
        "g" * 32,
        "../" + "0" * 29,
        "0" * 32 + "\n",
    ],
)
async def test_bad_ids(store: EncryptedFileStore, file_id: str) -> None:
    with pytest.raises(NotFoundError):
        await store.get(file_id)
    assert not await store.exists(file_id)
    assert not await store.delete(file_id)


async def test_unknown_id(store: EncryptedFileStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get("ab" * 16)


async def test_ping(store: EncryptedFileStore, tmp_path: Path) -> None:
    await store.ping()
    assert store.root.is_dir()
    assert list(store.root.iterdir()) == []
    blocked = tmp_path / "blocked"
    blocked.write_bytes(b"not a directory")
    with pytest.raises(StoreUnavailableError) as info:
        await EncryptedFileStore(blocked / "files", KEY).ping()
    assert info.value.store == "files"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
async def test_ping_read_only(tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir(mode=0o500)
    try:
        with pytest.raises(StoreUnavailableError):
            await EncryptedFileStore(root, KEY).ping()
    finally:
        root.chmod(0o700)


def test_bad_key_length(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        EncryptedFileStore(tmp_path, b"short")


async def test_open_with_generated_key(tmp_path: Path) -> None:
    store = open_file_store(tmp_path, "")
    assert store.root == tmp_path / "files"
    file_id = await store.put(PLAINTEXT, owner="u")
    assert (tmp_path / "secrets" / "files.key").is_file()
    assert await open_file_store(tmp_path, "").get(file_id) == PLAINTEXT


async def test_open_with_key_setting(tmp_path: Path) -> None:
    setting = base64.b64encode(KEY).decode()
    file_id = await open_file_store(tmp_path, setting).put(PLAINTEXT, owner="u")
    assert await EncryptedFileStore(tmp_path / "files", KEY).get(file_id) == PLAINTEXT
    assert not (tmp_path / "secrets").exists()


def test_open_with_bad_key_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"files\.key") as info:
        open_file_store(tmp_path, "dG9vIHNob3J0")
    assert "dG9vIHNob3J0" not in str(info.value)
