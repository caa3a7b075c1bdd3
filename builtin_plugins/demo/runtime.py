"""Demo mode inside one kernel: both simulators on loopback, the banner, the trust anchor.

Started by the plugin's ``enclava_startup`` and stopped by ``enclava_shutdown``. It starts only
when ``[demo] enabled`` and both providers point at their simulators' ports, as
``enclava serve --demo`` arranges; otherwise startup fails with a ConfigError. The simulators
run through the ``ProviderSimulators`` service (plugin ``simulators``); while they run, the
attestation plugin trusts the simulator's test root only (``SimulatedTrust``: labelled
``simulated``, loopback providers only); stopping restores Intel DCAP. Nothing here imports
another plugin: services and settings only.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sys

from builtin_plugins.demo.serve_flag import PROVIDER_SECTIONS
from builtin_plugins.demo.settings import SECTION, DemoSettings
from builtin_plugins.demo.urls import DEMO_API_KEY, SIMULATOR_HOST, simulator_url
from kernel.errors import ConfigError
from kernel.runtime import Kernel
from kernel.services import ProviderSimulators, SimulatedTrust, UserDirectory
from kernel.stash import StashKey

__all__ = ["DEMO_ADMIN", "RUNTIME", "DemoRuntime", "banner", "dashboard_url", "demo_admin"]

log = logging.getLogger(__name__)

DEMO_ADMIN = "demo-admin@example.com"
"""The account demo mode creates so the dashboard can be tried at once."""


def banner(urls: dict[str, str], dashboard: str = "", account: str = "") -> str:
    """The notice printed whenever demo mode starts: the simulators, then where to sign in."""
    rule = "!" * 78
    lines = [
        rule,
        "!!  DEMO MODE: providers are SIMULATED with PUBLIC TEST KEYS.",
        "!!  Nothing here is confidential: no TEE, no real attestation, canned answers.",
        *(f"!!  simulated {kind}: {url}" for kind, url in urls.items()),
        f"!!  Attestation label on every response: 'simulated' (API key {DEMO_API_KEY!r}).",
        "!!  Never send real data; run `enclava serve` without --demo for real providers.",
        *([f"!!  Dashboard: {dashboard}"] if dashboard else []),
        *([f"!!  {account}"] if account else []),
        rule,
    ]
    return "\n".join(lines)


def dashboard_url(host: str, port: int) -> str:
    """The dashboard's address for a server bound to ``host``:``port`` (a wildcard bind is
    reached over loopback)."""
    shown = "127.0.0.1" if host in {"", "0.0.0.0"} else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/dashboard/"


async def demo_admin(kernel: Kernel) -> str:
    """The banner's sign-in line. At the first demo start on a data directory, the account
    :data:`DEMO_ADMIN` is made a super admin with a random one-time password (shown here once,
    to be changed at first sign-in); later starts only name the account."""
    directory = kernel.service(UserDirectory)
    if await directory.by_email(kernel.stores.db, DEMO_ADMIN) is not None:
        return f"Sign in as {DEMO_ADMIN} (its first password was shown when it was created)."
    password = secrets.token_urlsafe(12)
    await directory.create(
        kernel.stores.db, email=DEMO_ADMIN, password=password, role="super_admin"
    )
    return f"Sign in as {DEMO_ADMIN} with the one-time password {password} (then choose yours)."


class DemoRuntime:
    """The simulators one kernel runs in demo mode, and their attestation verdicts."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._stack: contextlib.AsyncExitStack | None = None
        self._trust: SimulatedTrust | None = None

    @property
    def running(self) -> bool:
        """Whether the simulators are up."""
        return self._stack is not None

    def settings(self) -> DemoSettings:
        """The kernel's current ``[demo]`` section."""
        return self._kernel.settings.section(SECTION, DemoSettings)

    def _ports(self, demo: DemoSettings) -> dict[str, int]:
        return dict(zip(PROVIDER_SECTIONS, (demo.privatemode_port, demo.redpill_port), strict=True))

    def _miswired(self, demo: DemoSettings) -> str | None:
        """Why the providers do not point at the simulators, or None when they do."""
        configured = self._kernel.settings.as_dict()
        for kind, port in self._ports(demo).items():
            section = configured.get(kind)
            url = str(section.get("url", "")).rstrip("/") if isinstance(section, dict) else ""
            if port == 0 or url != simulator_url(port):
                return f"[demo] is enabled but [{kind}] url {url} is not its simulator's"
        return None

    async def start(self) -> None:
        """Start both simulators and announce demo mode (nothing unless ``[demo] enabled``)."""
        demo = self.settings()
        if not demo.enabled or self.running:
            return
        problem = self._miswired(demo)
        if problem is not None:
            raise ConfigError(f"{problem}; start demo mode with `enclava serve --demo`")
        ports = self._ports(demo)
        simulators = self._kernel.service(ProviderSimulators)
        trust = self._kernel.service(SimulatedTrust)
        async with contextlib.AsyncExitStack() as stack:
            for kind, port in ports.items():
                await stack.enter_async_context(
                    simulators.serve(kind, host=SIMULATOR_HOST, port=port, api_key=DEMO_API_KEY)
                )
            self._stack = stack.pop_all()
        trust.trust_simulators(True)
        self._trust = trust
        server = self._kernel.settings.kernel.server
        text = banner(
            {k: simulator_url(p) for k, p in ports.items()},
            dashboard=dashboard_url(server.host, server.port),
            account=await demo_admin(self._kernel),
        )
        if self._kernel.settings.kernel.server.log_format == "json":
            log.warning("%s", text)  # one JSON line: log shippers parse every stderr line
        else:
            print(text, file=sys.stderr, flush=True)
        log.warning("DEMO MODE: providers are SIMULATED with public test keys; not confidential")

    async def stop(self) -> None:
        """Stop the simulators."""
        stack, self._stack = self._stack, None
        trust, self._trust = self._trust, None
        if trust is not None:
            trust.trust_simulators(False)
        if stack is not None:
            await stack.aclose()


RUNTIME: StashKey[DemoRuntime] = StashKey()
