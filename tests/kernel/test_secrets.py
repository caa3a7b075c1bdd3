from __future__ import annotations

import base64
import stat
import threading
from pathlib import Path

import pytest

from kernel.errors import ConfigError
from kernel.secrets import decode_key, ensure_secret


def test_generated_once_and_stable(tmp_path: Path) -> None:
    first = ensure_secret(tmp_path, "files.key")
    assert len(first) == 32
    assert ensure_secret(tmp_path, "files.key") == first
    assert (tmp_path / "secrets" / "files.key").read_bytes() == first
    assert ensure_secret(tmp_path, "other") != first


def test_nbytes(tmp_path: Path) -> None:
    assert len(ensure_secret(tmp_path, "short", nbytes=16)) == 16


def test_modes(tmp_path: Path) -> None:
    ensure_secret(tmp_path, "jwt")
    directory = tmp_path / "secrets"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "jwt").stat().st_mode) == 0o600
    assert [p.name for p in directory.iterdir()] == ["jwt"]


def test_loose_directory_is_tightened(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir(mode=0o755)
    (tmp_path / "secrets").chmod(0o755)
    ensure_secret(tmp_path, "k")
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700


def test_concurrent_first_calls_agree(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    results: list[bytes] = []

    def worker() -> None:
        barrier.wait()
        results.append(ensure_secret(tmp_path, "race"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert len(set(results)) == 1
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["race"]


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "../x", "UPPER", "sp ace", "x" * 65, "a\\b"]
)
def test_bad_names_rejected(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="invalid secret name"):
        ensure_secret(tmp_path, name)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_by_others_refused(tmp_path: Path, mode: int) -> None:
    ensure_secret(tmp_path, "k")
    (tmp_path / "secrets" / "k").chmod(mode)
    with pytest.raises(ConfigError, match="readable by group or others"):
        ensure_secret(tmp_path, "k")


def test_wrong_length_refused(tmp_path: Path) -> None:
    ensure_secret(tmp_path, "k", nbytes=16)
    with pytest.raises(ConfigError, match="must hold 32 bytes"):
        ensure_secret(tmp_path, "k")


def test_symlink_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"x" * 32)
    target.chmod(0o600)
    (tmp_path / "secrets").mkdir(mode=0o700)
    (tmp_path / "secrets" / "k").symlink_to(target)
    with pytest.raises(ConfigError, match="cannot read secret"):
        ensure_secret(tmp_path, "k")


def test_decode_key_standard_and_urlsafe() -> None:
    raw = bytes(range(250, 256)) * 5 + b"\xfb\xff"
    assert len(raw) == 32
    assert decode_key(base64.b64encode(raw).decode()) == raw
    assert decode_key(base64.urlsafe_b64encode(raw).decode()) == raw
    assert decode_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert decode_key(f"  {base64.b64encode(raw).decode()}\n") == raw
    assert decode_key(base64.b64encode(raw[:16]).decode(), nbytes=16) == raw[:16]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not*base64!secretvalue",
        "c2VjcmV0dmFsdWU=",  # valid base64, wrong length
        "QUJD=RA==",
        "A",
    ],
)
def test_decode_key_errors_do_not_echo(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        decode_key(value)
    message = str(info.value)
    assert "key" in message
    if value:
        assert value not in message
        assert "secret" not in message


def test_concurrent_first_calls_from_processes_agree(tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        results = list(pool.map(ensure_secret, [tmp_path] * 8, ["shared"] * 8))
    assert len(set(results)) == 1
    assert ensure_secret(tmp_path, "shared") == results[0]
