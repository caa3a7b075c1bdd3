"""The outbound HTTP seam: one pooled aiohttp session per upstream origin.

aiohttp carries upstream traffic because it costs a third of httpx's CPU per request here
(measured on 2 cores: 0.5 to 0.7 ms per forwarded request, where httpx's own pool reached 9.9 ms
at concurrency 64). Sessions are created on first use and closed with the kernel.

An origin can be PINNED (:meth:`HttpClients.pin`): every new TLS connection to it is accepted
only when the SHA-256 of the server certificate's SubjectPublicKeyInfo is one of the pinned
hashes (aci/1 §3.1: the attested keyset's ``tls_public_keys``); anything else fails the
connection with :class:`SpkiPinMismatch` before a byte of the request is sent. The pin replaces
CA verification (an attested TEE's certificate is often self-signed). Changing the pins closes
the origin's pooled connections. ``pinned=False`` sessions (attestation fetches, which prove
themselves) are never pinned.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from yarl import URL

__all__ = ["HttpClients", "SpkiPinMismatch", "SpkiPins", "is_loopback_url", "spki_sha256"]


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` names this machine (``localhost``, 127.0.0.0/8 or ``::1``): the rule that
    keeps simulators, demo mode and test roots off the network."""
    try:
        host = URL(url).host
    except (TypeError, ValueError):
        return False
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def spki_sha256(certificate_der: bytes) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo of ``certificate_der``."""
    key = x509.load_der_x509_certificate(certificate_der).public_key()
    return hashlib.sha256(
        key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).digest()


class SpkiPinMismatch(aiohttp.ServerFingerprintMismatch):
    """The server's TLS key is not one of the pinned keys (or the connection is not TLS)."""

    def __str__(self) -> str:
        return (
            f"the TLS key of {self.host}:{self.port} (SPKI sha256 {self.got.hex() or 'none'}) "
            "is not in the attested keyset"
        )


class SpkiPins(aiohttp.Fingerprint):
    """aiohttp's post-handshake fingerprint hook, checking the SPKI hash against a set."""

    def __init__(self, allowed: frozenset[bytes]) -> None:
        super().__init__(hashlib.sha256(b"enclava-spki-pins").digest())
        self.allowed = allowed

    def check(self, transport: asyncio.Transport) -> None:
        """Raise SpkiPinMismatch unless the peer's SPKI hash is allowed."""
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        got = spki_sha256(der) if der else b""
        if got not in self.allowed:
            host, port, *_ = transport.get_extra_info("peername") or ("?", 0)
            raise SpkiPinMismatch(next(iter(self.allowed), b""), got, host, port)


class HttpClients:
    """Pooled client sessions keyed by origin (scheme://host:port)."""

    def __init__(self, *, limit_per_host: int = 256, keepalive_timeout: float = 30.0) -> None:
        self._limit_per_host = limit_per_host
        self._keepalive_timeout = keepalive_timeout
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._pins: dict[str, frozenset[bytes]] = {}

    def pins(self, base_url: str) -> frozenset[bytes] | None:
        """The SPKI hashes ``base_url``'s origin is pinned to (None: not pinned)."""
        return self._pins.get(str(URL(base_url).origin()))

    async def pin(self, base_url: str, spki_hashes: frozenset[bytes] | None) -> None:
        """Pin ``base_url``'s origin to ``spki_hashes`` (None unpins); a change closes its pooled
        connections so that every later connection is checked. ValueError for a plain-HTTP
        origin: there is no TLS key to pin."""
        url = URL(base_url)
        origin = str(url.origin())
        if spki_hashes is not None and url.scheme != "https":
            raise ValueError(f"{origin} is not https: its TLS key cannot be pinned")
        if self._pins.get(origin) == spki_hashes:
            return
        if spki_hashes is None:
            self._pins.pop(origin, None)
        else:
            self._pins[origin] = spki_hashes
        session = self._sessions.pop(origin, None)
        if session is not None:
            await session.close()

    def session(self, base_url: str, *, pinned: bool = True) -> aiohttp.ClientSession:
        """The shared session for ``base_url``'s origin (created on first use); ``pinned=False``:
        a separate session that ignores the origin's pins."""
        origin = str(URL(base_url).origin())
        pins = self._pins.get(origin) if pinned else None
        key = origin if pinned else f"unpinned:{origin}"
        session = self._sessions.get(key)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,
                limit_per_host=self._limit_per_host,
                keepalive_timeout=self._keepalive_timeout,
                enable_cleanup_closed=True,
                ssl=True if pins is None else SpkiPins(pins),
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                raise_for_status=False,
                skip_auto_headers=("User-Agent",),
            )
            self._sessions[key] = session
        return session

    async def close(self) -> None:
        """Close every session (called at kernel shutdown)."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
