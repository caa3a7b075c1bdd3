"""The ``[attestation]`` section refuses settings it could not enforce."""

from __future__ import annotations

from typing import Any

import pytest

from builtin_plugins.attestation.settings import AttestationSettings
from kernel.errors import ConfigError


def test_defaults_are_strict_tcb_and_legacy() -> None:
    settings = AttestationSettings()
    assert settings.accepted_tcb_statuses == ["UpToDate"]
    assert (settings.redpill_scheme, settings.response_policy) == ("legacy", "async")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENCLAVA_ATTESTATION_ACCEPTED_TCB_STATUSES": '["Revoked"]'}, "accepted_tcb_statuses"),
        ({"ENCLAVA_ATTESTATION_ACCEPTED_TCB_STATUSES": "[]"}, "accepted_tcb_statuses"),
        ({"ENCLAVA_ATTESTATION_RETRY_SECONDS": "7200"}, "retry_seconds"),
        ({"ENCLAVA_ATTESTATION_RESPONSE_POLICY": "sometimes"}, "response_policy"),
        ({"ENCLAVA_ATTESTATION_PCCS_URL": "ftp://pccs"}, "pccs_url"),
    ],
)
def test_bad_values_stop_the_boot(make_settings: Any, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_settings(**env)


def test_relaxed_tcb_policy_is_read_from_the_environment(make_settings: Any) -> None:
    settings = make_settings(
        ENCLAVA_ATTESTATION_ACCEPTED_TCB_STATUSES='["UpToDate","SWHardeningNeeded"]'
    )
    section = settings.section("attestation", AttestationSettings)
    assert section.accepted_tcb_statuses == ["UpToDate", "SWHardeningNeeded"]
