"""aci/1 SPKI pinning against a loopback TLS server with a self-signed certificate generated
here: a pinned key connects, any other key fails closed before the request is sent, and the
provider's error names the refused key."""

from __future__ import annotations

import datetime
import hashlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from builtin_plugins.attestation.attester import Attester, Target
from builtin_plugins.attestation.extra_roots import TEST_ROOT_LABEL
from builtin_plugins.attestation.pinning import NO_TLS_KEYS, apply_pins, tls_pins
from builtin_plugins.attestation.settings import AttestationSettings
from builtin_plugins.attestation.trust import simulated_trust
from builtin_plugins.attestation.upstream import EvidenceClient
from builtin_plugins.attestation.verdicts import Verdict
from builtin_plugins.providers.redpill import RedPillProvider
from builtin_plugins.providers.settings import RedPillSettings
from builtin_plugins.simulators.aci import ACI
from builtin_plugins.simulators.keys import TEST_API_KEY
from builtin_plugins.simulators.testing import running_simulator
from kernel.errors import UpstreamError
from kernel.http import HttpClients, SpkiPinMismatch, spki_sha256
from kernel.upstream import ModelInfo, UpstreamCall

QWEN = "phala/qwen-2.5-7b-instruct"
MODEL = ModelInfo(id="m", provider="redpill", upstream_id="m", region="us")
ANSWER = {"id": "chat-1", "object": "chat.completion", "choices": []}


def _certificate(folder: Path) -> tuple[ssl.SSLContext, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return context, hashlib.sha256(spki).digest()


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[str, bytes, list[str]]]:
    """``(base url, SPKI sha256 of its key, paths served)``."""
    context, spki = _certificate(tmp_path)
    served: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        served.append(request.path)
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    yield f"https://127.0.0.1:{port}/v1", spki, served
    await runner.cleanup()


async def test_a_pinned_key_connects_and_any_other_fails_closed(
    tls_server: tuple[str, bytes, list[str]],
) -> None:
    url, spki, served = tls_server
    http = HttpClients()
    try:
        await http.pin(url, frozenset({spki}))
        async with http.session(url).get(f"{url}/models") as response:
            assert response.status == 200
        await http.pin(url, frozenset({bytes(32)}))
        with pytest.raises(SpkiPinMismatch, match="is not in the attested keyset"):
            async with http.session(url).get(f"{url}/models"):
                pass
        assert served == ["/v1/models"]  # nothing reached the server over the refused key
        async with http.session(url, pinned=False).get(f"{url}/models", ssl=False) as response:
            assert response.status == 200  # attestation fetches are not pinned
    finally:
        await http.close()


async def test_the_provider_names_a_refused_tls_key(
    tls_server: tuple[str, bytes, list[str]],
) -> None:
    url, spki, served = tls_server
    http = HttpClients()
    provider = RedPillProvider(RedPillSettings(url=url), api_key="k", http=http)
    call = UpstreamCall(
        endpoint="/chat/completions", body=b"{}", stream=False, model=MODEL, request_id="r"
    )
    try:
        await http.pin(url, frozenset({spki}))
        assert (await provider.send(call)).status == 200
        await http.pin(url, frozenset({hashlib.sha256(b"another key").digest()}))
        with pytest.raises(UpstreamError, match="not in the attested keyset") as refused:
            await provider.send(call)
        assert refused.value.retryable  # the router fails over; the circuit counts it
        assert served == ["/v1/chat/completions"]
    finally:
        await http.close()


def test_spki_hash_is_that_of_the_certificate_key(tmp_path: Path) -> None:
    _context, spki = _certificate(tmp_path)
    pem = (tmp_path / "cert.pem").read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert spki_sha256(der) == spki


def _verdict(keyset: dict[str, object], label: str = "verified") -> Verdict:
    return Verdict(
        provider="redpill",
        model="m",
        scheme="aci",
        label=label,
        valid=True,
        url="x",
        checked_at=1.0,
        expires_at=2.0,
        keyset=keyset,
    )


async def test_pins_come_from_the_keyset_and_need_https() -> None:
    good = {"domain": "api.example.com", "spki_sha256": "c0" * 32}
    keyset = {"tls_public_keys": [good, {"spki_sha256": "zz"}, "junk"]}
    assert tls_pins(keyset) == frozenset({bytes.fromhex("c0" * 32)})
    http = HttpClients()
    try:
        verdict = await apply_pins(http, "https://api.example.com/v1", _verdict(keyset))
        assert verdict.valid
        assert http.pins("https://api.example.com/x") == frozenset({bytes.fromhex("c0" * 32)})
        refused = await apply_pins(http, "http://127.0.0.1:9/v1", _verdict(keyset))
        assert not refused.valid
        assert "is not https" in refused.reason
        unpinned = await apply_pins(http, "http://127.0.0.1:9/v1", _verdict({}))
        assert unpinned.valid
        assert http.pins("http://127.0.0.1:9/v1") is None
    finally:
        await http.close()


async def test_a_keyset_without_tls_keys_is_refused_unless_loopback_or_test_root() -> None:
    http = HttpClients()
    remote = "https://api.example.com/v1"
    try:
        for keyset in ({}, {"tls_public_keys": []}, {"tls_public_keys": [{"spki_sha256": "zz"}]}):
            refused = await apply_pins(http, remote, _verdict(keyset))
            assert not refused.valid
            assert refused.reason == NO_TLS_KEYS
            assert refused.expires_at == refused.checked_at
        assert http.pins(remote) is None
        assert (await apply_pins(http, remote, _verdict({}, label=TEST_ROOT_LABEL))).valid
        for local in ("http://127.0.0.1:9/v1", "https://localhost:9/v1", "http://[::1]:9/v1"):
            assert (await apply_pins(http, local, _verdict({}))).valid
    finally:
        await http.close()


async def test_plain_http_cannot_be_pinned() -> None:
    with pytest.raises(ValueError, match="not https"):
        await HttpClients().pin("http://127.0.0.1:9", frozenset({bytes(32)}))


async def test_an_attested_keyset_with_tls_keys_refuses_a_plain_http_provider() -> None:
    settings = AttestationSettings(redpill_scheme="aci")
    http = HttpClients()
    async with running_simulator("redpill") as sim:
        sim.app[ACI].announce_tls_keys("127.0.0.1", ["c0" * 32])
        target = Target(provider="redpill", model=QWEN, url=sim.base_url, api_key=TEST_API_KEY)
        verdict = await Attester(EvidenceClient(http, timeout=5)).attest(
            target, trust=simulated_trust(settings), settings=settings
        )
        assert verdict.valid, verdict.reason
        assert tls_pins(verdict.keyset) == frozenset({bytes.fromhex("c0" * 32)})
        refused = await apply_pins(http, sim.base_url, verdict)
    await http.close()
    assert not refused.valid
    assert "is not https: its TLS key cannot be pinned" in refused.reason
