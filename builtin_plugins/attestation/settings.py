"""The ``[attestation]`` settings section (``ENCLAVA_ATTESTATION_*``).

Every field is enforced by :mod:`.service` (lifecycle, response policy), :mod:`.quotes` and
:mod:`.collateral` (TDX quote checks) or :mod:`.gpu` (NVIDIA evidence).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from builtin_plugins.attestation.policy import TrustRule
from kernel.http import is_loopback_url

__all__ = ["SECTION", "TCB_STATUSES", "AttestationSettings"]

SECTION = "attestation"
TCB_STATUSES = frozenset(
    {
        "UpToDate",
        "SWHardeningNeeded",
        "ConfigurationNeeded",
        "ConfigurationAndSWHardeningNeeded",
        "OutOfDate",
        "OutOfDateConfigurationNeeded",
    }
)


class AttestationSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """How RedPill attestations are fetched, checked and trusted.

    ``redpill_scheme``: ``legacy`` (per-model report, EIP-191 response signatures) or ``aci``
    (aci/1 gateway keyset, Ed25519 receipts). ``response_policy``: per-response verification
    ``off``, ``async`` (right after the client got it), ``strict_trailer`` (a stream's content
    flows, its ``[DONE]`` waits for verification) or ``strict`` (nothing before verification:
    streams are held to their end).
    A valid attestation is renewed after ``ttl_seconds``; failed or pending ones are retried
    every ``retry_seconds``. ``pccs_url`` serves Intel DCAP collateral (cached until its
    ``nextUpdate``); ``accepted_tcb_statuses`` is the TCB policy (strict: ``UpToDate`` only).
    ``require_gpu``: also verify NVIDIA GPU evidence through ``nras_url``, whose verdict JWT
    must verify (ES384) under a key of ``nras_jwks_url`` (https, or a loopback simulator: it is
    the GPU trust anchor). ``trust``: the workload allowlist (:mod:`.policy`); a rule's
    ``accepted_tcb_statuses`` can only narrow the section's. ``extra_roots_file``: simulator
    roots trusted besides Intel (:mod:`.extra_roots`), refused unless ``allow_test_roots``.
    """

    redpill_scheme: Literal["legacy", "aci"] = "legacy"
    response_policy: Literal["off", "async", "strict_trailer", "strict"] = "async"
    ttl_seconds: float = 3600.0
    retry_seconds: float = 10.0
    timeout_seconds: float = 10.0
    pccs_url: str = "https://pccs.phala.network"
    accepted_tcb_statuses: list[str] = msgspec.field(default_factory=lambda: ["UpToDate"])
    require_gpu: bool = False
    nras_url: str = "https://nras.attestation.nvidia.com/v3/attest/gpu"
    nras_jwks_url: str = "https://nras.attestation.nvidia.com/.well-known/jwks.json"
    trust: list[TrustRule] = []
    extra_roots_file: str = ""
    allow_test_roots: bool = False

    def __post_init__(self) -> None:
        if self.ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        if not 0 < self.retry_seconds <= self.ttl_seconds:
            raise ValueError("need 0 < retry_seconds <= ttl_seconds")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        unknown = set(self.accepted_tcb_statuses) - TCB_STATUSES
        if unknown or not self.accepted_tcb_statuses:
            raise ValueError(f"accepted_tcb_statuses must be among {sorted(TCB_STATUSES)}")
        for url in (self.pccs_url, self.nras_url, self.nras_jwks_url):
            if not url.startswith(("http://", "https://")):
                raise ValueError("pccs_url, nras_url and nras_jwks_url must be http(s) URLs")
        if not self.nras_jwks_url.startswith("https://") and not is_loopback_url(
            self.nras_jwks_url
        ):
            raise ValueError("nras_jwks_url must be https (it anchors GPU verdicts), or loopback")
        if self.extra_roots_file and not self.allow_test_roots:
            raise ValueError("extra_roots_file is refused unless allow_test_roots = true")
        for rule in self.trust:
            if set(rule.accepted_tcb_statuses) - TCB_STATUSES:
                raise ValueError(f"trust statuses must be among {sorted(TCB_STATUSES)}")
