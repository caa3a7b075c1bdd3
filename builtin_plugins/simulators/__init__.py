"""Faithful local simulators of the providers' wire protocols: ``enclava simulate``.

Privatemode (its proxy's OpenAI-compatible API) and RedPill (OpenAI-compatible API plus legacy
signatures, attestation reports and aci/1 receipts), with fault injection. They sign with
PUBLIC TEST KEYS and serve SIMULATED quotes: they exist for tests and ``--demo``, never to
stand in for a provider in production.

* apps: :mod:`.privatemode`; :mod:`.redpill` with :mod:`.redpill_models`,
  :mod:`.redpill_errors`, :mod:`.redpill_signing`, :mod:`.aci` and a simulated NRAS
  (:mod:`.nras`); shared skeleton :mod:`.app`;
* faults: :mod:`.faults` (config, middleware) and :mod:`.control` (``/_sim/`` routes);
* output: :mod:`.content` (deterministic text, tools, embeddings), :mod:`.completions`
  (OpenAI bodies), :mod:`.sse` (framing, byte capture);
* pure crypto and formats the simulators sign with (production verifiers have their own):
  :mod:`.eip191`, :mod:`.aci_crypto`,
  :mod:`.jcs`, :mod:`.simquote`, :mod:`.keys`;
* :mod:`.testing` (``running_simulator``), :mod:`.cli` (``enclava simulate``), :mod:`.kinds`;
* :mod:`.service`: the ``ProviderSimulators`` service demo mode runs them through.

Importing this package loads neither aiohttp nor the apps; the command does, when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from builtin_plugins.simulators.service import InProcessSimulators
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import ProviderSimulators, Service
from kernel.types import CliCommand

__all__ = ["PLUGIN_NAME", "VERSION", "enclava_cli", "enclava_services"]

PLUGIN_NAME = "simulators"
VERSION = "1.0.0"

HELP = "Run a SIMULATED provider (privatemode or redpill) with test keys, for tests and demos."


def _configure(parser: argparse.ArgumentParser) -> None:
    from builtin_plugins.simulators.cli import configure

    configure(parser)


def _run(args: argparse.Namespace) -> int:
    from builtin_plugins.simulators.cli import run

    return run(args)


@hookimpl(trylast=True)
def enclava_cli(kernel: Kernel) -> Sequence[CliCommand]:
    return [CliCommand(name="simulate", help=HELP, configure=_configure, run=_run)]


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    """``ProviderSimulators``: run a simulator inside this process (demo mode)."""
    return [Service(contract=ProviderSimulators, implementation=InProcessSimulators())]
