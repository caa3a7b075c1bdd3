"""The JWT authenticator: every bad token gets the same 401 and reveals nothing; API keys and
missing headers are left alone; the configured algorithm is the only one accepted."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from support.identity import create_user, login

from kernel.errors import ConfigError, InvalidRequestError

API = "/api-internal/v1"
ME = f"{API}/auth/me"
SECRET = "s" * 64
PASSWORD = "correct horse battery staple"
GENERIC = {
    "error": {
        "message": "Invalid or expired token.",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_token",
    }
}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "role": "super_admin",
        "typ": "access",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 600,
        "iss": "enclava",
        "epoch": 0,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _hmac_with_public_key(claims: dict[str, Any], key_file: Path) -> str:
    """The classic confusion attack: HS256 keyed with the server's public key PEM."""
    key = load_pem_private_key(key_file.read_bytes(), password=None)
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _ed25519_pem(path: Path) -> Path:
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    path.write_bytes(pem)
    return path


@pytest.fixture
def hs256_app(make_settings: Any, make_app: Any, sqlite_url: str) -> Any:
    return make_app(make_settings(sqlite_url, ENCLAVA_AUTH_JWT_SECRET=SECRET))


async def test_a_valid_token_authenticates(hs256_app: Any, running: Any) -> None:
    async with running(hs256_app) as client:
        user_id = await create_user(hs256_app, "a@example.com", PASSWORD)
        forged_with_the_real_key = jwt.encode(_claims(user_id, role="user"), SECRET, "HS256")
        response = await client.get(
            ME, headers={"Authorization": f"Bearer {forged_with_the_real_key}"}
        )
        assert response.status_code == 200
        assert response.json()["id"] == user_id


async def test_bad_tokens_all_get_the_same_generic_401(hs256_app: Any, running: Any) -> None:
    async with running(hs256_app) as client:
        user_id = await create_user(hs256_app, "a@example.com", PASSWORD)
        headers = await login(client, "a@example.com", PASSWORD)
        real = headers["Authorization"].removeprefix("Bearer ")
        body = _claims(user_id)
        tokens = {
            "garbage": "not-a-jwt",
            "three dots": "a.b.c",
            "empty segments": "..",
            "truncated": real[:-5],
            "tampered payload": ".".join(
                [
                    real.split(".")[0],
                    _b64(
                        {
                            **jwt.decode(real, options={"verify_signature": False}),
                            "role": "super_admin",
                        }
                    ),
                    real.split(".")[2],
                ]
            ),
            "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(body)}.",
            "alg none signed": jwt.encode(body, None, algorithm="none"),
            "wrong key": jwt.encode(body, "w" * 64, "HS256"),
            "HS512 with the real key": jwt.encode(body, SECRET, "HS512"),
            "expired": jwt.encode(
                _claims(user_id, iat=int(time.time()) - 1000, exp=int(time.time()) - 10),
                SECRET,
                "HS256",
            ),
            "refresh used as access": jwt.encode(
                _claims(user_id, typ="refresh", fam="f" * 32), SECRET, "HS256"
            ),
            "no jti": jwt.encode(_claims(user_id, jti=None), SECRET, "HS256"),
            "no exp": jwt.encode(_claims(user_id, exp=None), SECRET, "HS256"),
            "no typ": jwt.encode(_claims(user_id, typ=None), SECRET, "HS256"),
            "wrong issuer": jwt.encode(_claims(user_id, iss="someone-else"), SECRET, "HS256"),
            "unknown user": jwt.encode(_claims(uuid.uuid4().hex), SECRET, "HS256"),
            "stale epoch": jwt.encode(_claims(user_id, epoch=7), SECRET, "HS256"),
            "epoch as text": jwt.encode(_claims(user_id, epoch="0"), SECRET, "HS256"),
        }
        for name, token in tokens.items():
            response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, name
            assert response.json() == GENERIC, name
            assert token not in response.text
            assert "www-authenticate" not in response.headers


async def test_requests_without_a_jwt_are_not_ours(hs256_app: Any, running: Any) -> None:
    async with running(hs256_app) as client:
        for headers in (
            {},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "Bearer en_live_abc"},
        ):
            response = await client.get(ME, headers=headers)
            assert response.status_code == 401
            # The gate's "no credentials" answer, not the JWT authenticator's.
            assert response.json()["error"]["message"] != GENERIC["error"]["message"]
        assert (await client.get("/health/live")).status_code == 200


async def test_eddsa_app_signs_with_ed25519_and_rejects_hs256(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str, tmp_path: Path
) -> None:
    key_file = _ed25519_pem(tmp_path / "jwt-ed25519.pem")
    settings = make_settings(
        sqlite_url,
        ENCLAVA_AUTH_JWT_ALGORITHM="EdDSA",
        ENCLAVA_AUTH_JWT_PRIVATE_KEY_FILE=str(key_file),
        ENCLAVA_AUTH_JWT_SECRET=SECRET,
    )
    app = make_app(settings)
    async with running(app) as client:
        user_id = await create_user(app, "ed@example.com", PASSWORD)
        headers = await login(client, "ed@example.com", PASSWORD)
        token = headers["Authorization"].removeprefix("Bearer ")
        assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
        assert (await client.get(ME, headers=headers)).status_code == 200
        for forged in (
            jwt.encode(_claims(user_id), SECRET, "HS256"),
            _hmac_with_public_key(_claims(user_id), key_file),  # algorithm confusion
            jwt.encode(_claims(user_id), None, algorithm="none"),
            jwt.encode(_claims(user_id), Ed25519PrivateKey.generate(), "EdDSA"),  # another key
        ):
            response = await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
            assert response.status_code == 401
            assert response.json() == GENERIC


def test_eddsa_needs_a_key_file(make_settings: Any, sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="jwt_private_key_file"):
        make_settings(sqlite_url, ENCLAVA_AUTH_JWT_ALGORITHM="EdDSA")
    with pytest.raises(ConfigError, match="auth"):
        make_settings(sqlite_url, ENCLAVA_AUTH_JWT_ALGORITHM="none")
    with pytest.raises(ConfigError, match="auth"):
        make_settings(sqlite_url, ENCLAVA_AUTH_JWT_ALGORITHM="RS256")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        make_settings(sqlite_url, ENCLAVA_AUTH_JWT_SECRET="short")


@pytest.mark.parametrize("content", [None, b"not a pem", b"rsa"])
def test_a_bad_key_file_stops_the_boot(
    make_settings: Any, sqlite_url: str, tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "key.pem"
    if content == b"rsa":
        rsa = generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(rsa.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"\[auth\].*jwt_private_key_file"):
        make_settings(
            sqlite_url,
            ENCLAVA_AUTH_JWT_ALGORITHM="EdDSA",
            ENCLAVA_AUTH_JWT_PRIVATE_KEY_FILE=str(path),
        )


async def test_a_bad_runtime_key_change_is_refused(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str, tmp_path: Path
) -> None:
    app = make_app(make_settings(sqlite_url))
    async with running(app) as client:
        await create_user(app, "k@example.com", PASSWORD)
        headers = await login(client, "k@example.com", PASSWORD)
        kernel = app.state.kernel
        with pytest.raises(InvalidRequestError, match="jwt_private_key_file"):
            await kernel.update_section(
                "auth",
                {"jwt_algorithm": "EdDSA", "jwt_private_key_file": str(tmp_path / "missing.pem")},
            )
        assert (await client.get(ME, headers=headers)).status_code == 200


async def test_generated_secret_survives_a_restart(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "kept-data"
    first = make_app(make_settings(sqlite_url, data_dir=data_dir, ENCLAVA_AUTH_JWT_SECRET=""))
    async with running(first) as client:
        await create_user(first, "g@example.com", PASSWORD)
        headers = await login(client, "g@example.com", PASSWORD)
    secret = data_dir / "secrets" / "jwt.key"
    assert len(secret.read_bytes()) == 64
    assert secret.stat().st_mode & 0o077 == 0
    restarted = make_app(make_settings(sqlite_url, data_dir=data_dir, ENCLAVA_AUTH_JWT_SECRET=""))
    async with running(restarted) as client:
        assert (await client.get(ME, headers=headers)).status_code == 200
    other = make_app(make_settings(sqlite_url, ENCLAVA_AUTH_JWT_SECRET=""))  # its own key
    async with running(other) as client:
        response = await client.get(ME, headers=headers)
        assert response.status_code == 401
        assert response.json() == GENERIC


async def test_a_token_stops_working_when_it_expires(
    make_settings: Any, make_app: Any, running: Any, sqlite_url: str
) -> None:
    app = make_app(make_settings(sqlite_url, ENCLAVA_AUTH_ACCESS_TTL_SECONDS="1"))
    async with running(app) as client:
        await create_user(app, "t@example.com", PASSWORD)
        headers = await login(client, "t@example.com", PASSWORD)
        assert (await client.get(ME, headers=headers)).status_code == 200  # verified and cached
        await asyncio.sleep(2.05)
        response = await client.get(ME, headers=headers)
        assert response.status_code == 401
        assert response.json() == GENERIC
