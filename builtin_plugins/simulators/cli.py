"""``enclava simulate privatemode|redpill``: run a provider simulator until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING

from builtin_plugins.simulators.keys import LEGACY_SIGNING_ADDRESS, TEST_API_KEY
from builtin_plugins.simulators.kinds import DEFAULT_PORTS, KINDS

if TYPE_CHECKING:
    from builtin_plugins.simulators.app import SimulatorOptions
    from builtin_plugins.simulators.faults import FaultConfig

__all__ = ["banner", "configure", "fault_config", "run"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``enclava simulate``."""
    parser.add_argument("kind", choices=KINDS, help="which provider to simulate")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: privatemode 8080, redpill 8090)")
    parser.add_argument(
        "--api-key", default=TEST_API_KEY, help=f"accepted key (default {TEST_API_KEY})"
    )
    parser.add_argument("--no-api-key", action="store_true", help="accept requests without a key")
    parser.add_argument(
        "--keyset-ttl",
        type=int,
        default=24 * 3600,
        metavar="SECONDS",
        help="redpill: aci/1 keyset lifetime (negative: already expired)",
    )
    faults = parser.add_argument_group("faults (also settable at runtime: POST /_sim/faults)")
    faults.add_argument("--latency-ms", type=int, default=0, help="delay before every response")
    faults.add_argument(
        "--fail-status", type=int, metavar="STATUS", help="answer with this error status"
    )
    faults.add_argument("--retry-after", type=int, metavar="SECONDS", help="Retry-After of 429s")
    faults.add_argument("--fail-message", metavar="TEXT", help="error message of --fail-status")
    faults.add_argument(
        "--fail-times", type=int, metavar="N", help="fail only the first N requests"
    )
    faults.add_argument("--reset", action="store_true", help="reset connections without answering")
    faults.add_argument(
        "--stall-after", type=int, metavar="K", help="send K stream frames, then hang"
    )
    faults.add_argument(
        "--break-after", type=int, metavar="K", help="send K stream frames, then fail"
    )
    faults.add_argument("--malformed", action="store_true", help="send malformed JSON")
    faults.add_argument("--tamper", action="store_true", help="alter responses after signing")
    faults.add_argument(
        "--longest", action="store_true", help="answer chats with every token max_tokens allows"
    )
    faults.add_argument(
        "--overrun", type=int, default=0, metavar="N", help="answer N tokens past max_tokens"
    )
    faults.add_argument(
        "--fault-path",
        action="append",
        default=[],
        metavar="PREFIX",
        help="only fault these path prefixes (repeatable)",
    )


def fault_config(args: argparse.Namespace) -> FaultConfig:
    """The FaultConfig the flags describe (raises ValueError when they are inconsistent)."""
    from builtin_plugins.simulators.faults import FaultConfig

    return FaultConfig(
        latency_ms=args.latency_ms,
        status=args.fail_status,
        retry_after=args.retry_after,
        message=args.fail_message,
        reset=args.reset,
        stall_after=args.stall_after,
        break_after=args.break_after,
        malformed=args.malformed,
        tamper=args.tamper,
        fail_times=args.fail_times,
        longest=args.longest,
        overrun=args.overrun,
        paths=tuple(args.fault_path),
    )


def banner(kind: str, url: str, options: SimulatorOptions) -> str:
    """The loud notice printed at start: this is not a provider and its keys are public."""
    rule = "=" * 78
    key = "none required" if options.api_key is None else repr(options.api_key)
    lines = [
        rule,
        f"  SIMULATED {kind.upper()} PROVIDER. NOT A REAL TEE. NOTHING HERE IS CONFIDENTIAL.",
        f"  OpenAI-compatible API: {url}/v1    (API key: {key})",
        "  Signatures, receipts and quotes use PUBLIC TEST KEYS anyone can forge:",
        f"  legacy signer {LEGACY_SIGNING_ADDRESS}, aci/1 receipt-1 seed 0x02..02,",
        "  quotes signed by the simulator test root (seed 0x5a..5a), not by Intel or NVIDIA.",
        f"  Control: {url}/_sim/faults (GET/POST/DELETE), {url}/_sim/requests",
        rule,
    ]
    return "\n".join(lines)


async def _serve(kind: str, host: str, port: int, options: SimulatorOptions) -> None:
    import msgspec
    from aiohttp import web

    from builtin_plugins.simulators.faults import FaultConfig
    from builtin_plugins.simulators.kinds import build_app

    runner = web.AppRunner(build_app(kind, options), shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(banner(kind, f"http://{host}:{port}", options), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if options.faults != FaultConfig():
            print(f"faults: {msgspec.json.encode(options.faults).decode()}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    """Run the simulator in the foreground; 0 after SIGTERM/SIGINT."""
    from builtin_plugins.simulators.app import SimulatorOptions

    try:
        faults = fault_config(args)
    except (ValueError, TypeError) as exc:
        print(f"enclava simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = SimulatorOptions(
        api_key=None if args.no_api_key else args.api_key,
        faults=faults,
        keyset_ttl_seconds=args.keyset_ttl,
    )
    port = args.port if args.port is not None else DEFAULT_PORTS[args.kind]
    try:
        asyncio.run(_serve(args.kind, args.host, port, options))
    except OSError as exc:
        print(f"enclava simulate: cannot listen on {args.host}:{port}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"simulator {args.kind} stopped", flush=True)
    return EXIT_OK
