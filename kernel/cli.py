"""The ``enclava`` command. Plugins add subcommands through ``enclava_cli``.

Exit codes: 0 success, 1 operation failed, 2 usage error, 3 configuration error,
4 a required store is unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import logging.config
import os
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from kernel.errors import ConfigError, EnclavaError, StoreUnavailableError
from kernel.logs import OWN_LOGGERS, logging_config
from kernel.operations import plugin_table, run_migrations, toggle_plugin
from kernel.plugins import PluginManager
from kernel.preflight import preflight
from kernel.runtime import Kernel
from kernel.settings import (
    CONFIG_FILE_ENV,
    Settings,
    configured_values,
    load_settings,
    masked_settings,
)
from kernel.types import CliCommand, ServeOption

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK", "EXIT_UNAVAILABLE", "EXIT_USAGE", "main"]

log = logging.getLogger(__name__)
PROMETHEUS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CONFIG, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
_VERBOSE_HELP = "also print library log lines (migrations, ...)"
Handler = Callable[[argparse.Namespace, "Context"], int]
ServeFlags = tuple[tuple[str, ServeOption], ...]
"""Plugin flags of ``serve``: (argparse ``dest``, option)."""


class Context:
    """What a command needs: the plugin manager and settings (loaded on first use)."""

    def __init__(
        self, config: Path | None, overrides: dict[str, str], plugins: PluginManager | None = None
    ) -> None:
        self.config = config
        self.overrides = overrides
        self._plugins = plugins
        self._settings: Settings | None = None

    @property
    def plugins(self) -> PluginManager:
        if self._plugins is None:
            self._plugins = PluginManager()
        return self._plugins

    def override(self, values: dict[str, str]) -> None:
        """Apply command-line overrides; settings are reloaded on next use."""
        self.overrides.update(values)
        self._settings = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            env = {**os.environ, **self.overrides}
            self._settings = load_settings(
                self.config, env=env, plugin_schemas=self.plugins.settings_schemas()
            )
        return self._settings


def _serve(args: argparse.Namespace, ctx: Context) -> int:
    overrides = {
        "ENCLAVA_SERVER_HOST": args.host,
        "ENCLAVA_SERVER_PORT": None if args.port is None else str(args.port),
        "ENCLAVA_SERVER_WORKERS": None if args.workers is None else str(args.workers),
    }
    ctx.override({k: v for k, v in overrides.items() if v is not None})
    _prepare_serve_flags(args.serve_flags, args, ctx)
    settings = ctx.settings
    server = settings.kernel.server
    # before migrations log
    log_config = _server_logging(server.log_format, verbose=args.verbose, workers=server.workers)
    preflight(settings)
    asyncio.run(run_migrations(settings, ctx.plugins))
    os.environ.update(ctx.overrides)
    if ctx.config is not None:
        os.environ[CONFIG_FILE_ENV] = str(ctx.config.resolve())
    _say_trusted_proxies(server.forwarded_allow_ips)
    _share_metrics_between_workers(settings)
    import uvicorn

    if server.workers > 1:
        gc.enable()  # this process supervises the workers; it never starts a kernel
    # uvicorn shuts down gracefully, then re-raises SIGTERM; a graceful stop is a success.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_OK))

    # SIGTERM drains for shutdown_grace_seconds; streams still open then end with an error event.
    uvicorn.run(
        "kernel.drain:create_draining_app_from_env",
        factory=True,
        host=server.host,
        port=server.port,
        workers=server.workers if server.workers > 1 else None,
        log_level=server.log_level,
        server_header=False,
        proxy_headers=bool(server.forwarded_allow_ips),
        forwarded_allow_ips=server.forwarded_allow_ips or None,
        lifespan="on",
        access_log=False,  # the kernel's (server.access_log) has the route template, no query
        timeout_graceful_shutdown=server.shutdown_grace_seconds,
        **log_config,
    )
    return EXIT_OK


def _server_logging(log_format: str, *, verbose: bool, workers: int = 1) -> dict[str, Any]:
    """``json`` sends every logger, in this process and in every worker (uvicorn applies
    ``log_config`` in each), through one JSON-lines handler (:mod:`kernel.logs`). ``text`` keeps
    the current setup (and uvicorn's own) in one process; several workers get the text format
    as ``log_config``, since each starts from uvicorn's defaults, which drop Enclava's INFO lines
    (the access log among them)."""
    root_level = logging.INFO if verbose else logging.WARNING
    if log_format == "json":
        config = logging_config("json", root_level=root_level)
        logging.config.dictConfig(config)
        return {"log_config": config}
    if workers > 1:
        return {"log_config": logging_config("text", root_level=root_level)}
    return {}


def _share_metrics_between_workers(settings: Settings) -> None:
    """With several workers, the metrics plugin's Prometheus values live in files every worker
    writes and any worker's scrape sums: a directory emptied at each start, unless the operator
    set ``PROMETHEUS_MULTIPROC_DIR`` (then they empty it)."""
    if settings.kernel.server.workers < 2 or os.environ.get(PROMETHEUS_MULTIPROC_ENV):
        return
    path = settings.data_dir / "prometheus-multiproc"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[PROMETHEUS_MULTIPROC_ENV] = str(path)


def _say_trusted_proxies(allowed: str) -> None:
    if allowed:
        log.info("trusting X-Forwarded-For from %s (server.forwarded_allow_ips)", allowed)
    else:
        log.info(
            "X-Forwarded-For is ignored: client IPs are TCP peers (server.forwarded_allow_ips)"
        )


def _prepare_serve_flags(flags: ServeFlags, args: argparse.Namespace, ctx: Context) -> None:
    """Apply the overrides of every plugin flag given, in registration order."""
    for dest, option in flags:
        if getattr(args, dest):
            env = {**os.environ, **ctx.overrides}
            configured = configured_values(
                ctx.config, env=env, plugin_schemas=ctx.plugins.settings_schemas()
            )
            ctx.override(dict(option.prepare(ctx.settings, configured)))


def _serve_flags(serve: argparse.ArgumentParser, plugins: PluginManager | None) -> ServeFlags:
    """Add the ``enclava_serve_options`` flags of every registered plugin to ``serve``."""
    flags: list[tuple[str, ServeOption]] = []
    found = [] if plugins is None else plugins.collect("enclava_serve_options", plugins.names)
    for plugin, options in found:
        for option in options:
            if not isinstance(option, ServeOption) or not option.flag.startswith("--"):
                raise ConfigError(f"plugin '{plugin}' returned a bad serve option")
            dest = f"plugin_flag_{len(flags)}"  # never clashes with the parser's own names
            try:
                serve.add_argument(option.flag, action="store_true", dest=dest, help=option.help)
            except argparse.ArgumentError as exc:
                raise ConfigError(f"plugin '{plugin}' serve option clashes: {exc}") from None
            flags.append((dest, option))
    return tuple(flags)


def _migrate(_args: argparse.Namespace, ctx: Context) -> int:
    asyncio.run(run_migrations(ctx.settings, ctx.plugins, thorough=True))
    print("database is up to date")
    return EXIT_OK


def _plugins_list(args: argparse.Namespace, ctx: Context) -> int:
    rows = asyncio.run(plugin_table(ctx.settings, ctx.plugins))
    if args.json:
        data = [
            {
                "name": i.name,
                "kind": i.kind,
                "version": i.version,
                "enabled": on,
                "essential": i.essential,
                "description": i.description,
            }
            for i, on in rows
        ]
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"{'NAME':<24} {'KIND':<8} {'VERSION':<10} {'ENABLED':<8} ESSENTIAL")
    for info, on in rows:
        print(
            f"{info.name:<24} {info.kind:<8} {info.version:<10} {str(on).lower():<8} "
            f"{str(info.essential).lower()}"
        )
    return EXIT_OK


def _plugins_toggle(enabled: bool) -> Handler:
    def run(args: argparse.Namespace, ctx: Context) -> int:
        when = asyncio.run(toggle_plugin(ctx.settings, ctx.plugins, args.name, enabled=enabled))
        print(f"plugin {args.name} {'enabled' if enabled else 'disabled'}; {when}")
        return EXIT_OK

    return run


def _config_show(_args: argparse.Namespace, ctx: Context) -> int:
    print(json.dumps(masked_settings(ctx.settings), indent=2, sort_keys=True))
    return EXIT_OK


def _add(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    handler: Handler,
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text, parents=[common])
    parser.set_defaults(handler=handler, command_parser=parser)
    return parser


def _kernel_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    manager: PluginManager | None,
) -> None:
    serve = _add(sub, "serve", "Run the gateway (migrates first).", _serve, common)
    serve.add_argument("--host", help="bind address (default from settings: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default from settings: 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        help="worker processes (> 1 needs Redis, and Qdrant unless rag is disabled)",
    )
    serve.set_defaults(serve_flags=_serve_flags(serve, manager))
    _add(
        sub,
        "migrate",
        "Apply database migrations of the kernel and every plugin.",
        _migrate,
        common,
    )
    plugins = sub.add_parser("plugins", help="List and toggle plugins.")
    plugin_sub = plugins.add_subparsers(dest="plugins_command", required=True, metavar="ACTION")
    listing = _add(plugin_sub, "list", "List plugins and their state.", _plugins_list, common)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    for action, on in (("enable", True), ("disable", False)):
        p = _add(
            plugin_sub,
            action,
            f"{action.capitalize()} a plugin on every replica.",
            _plugins_toggle(on),
            common,
        )
        p.add_argument("name", help="plugin name")
    config = sub.add_parser("config", help="Inspect settings.")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    _add(config_sub, "show", "Print effective settings with secrets masked.", _config_show, common)


def _plugin_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], ctx: Context
) -> None:
    kernel = Kernel(ctx.settings, ctx.plugins)
    for plugin, commands in ctx.plugins.collect("enclava_cli", ctx.plugins.names, kernel=kernel):
        for command in commands:
            if not isinstance(command, CliCommand):
                raise ConfigError(f"plugin '{plugin}' returned a bad CLI command")
            parser = sub.add_parser(command.name, help=command.help, description=command.help)
            parser.set_defaults(command_parser=parser)
            command.configure(parser)
            _name_leaf_parsers(parser)
            parser.set_defaults(handler=lambda a, _c, run=command.run: run(a))


def _name_leaf_parsers(parser: argparse.ArgumentParser) -> None:
    """Let every nested action parser report its own errors (``enclava plugin build --x``), and
    give every leaf the common ``--config`` and ``--verbose`` like the kernel's commands."""
    children = [
        child
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for child in action.choices.values()
    ]
    for child in children:
        child.set_defaults(command_parser=child)
        _name_leaf_parsers(child)
    if children:
        return
    present = {option for action in parser._actions for option in action.option_strings}
    if "--config" not in present:
        parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings file")
    if "--verbose" not in present:
        parser.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)


def build_parser(ctx: Context | None, *, plugin_commands: bool = True) -> argparse.ArgumentParser:
    """The full parser; with ``ctx``, plugins' ``serve`` flags are added, and their commands
    too (unless ``plugin_commands`` is false) when ``ctx`` can load settings."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, metavar="FILE", help="TOML settings file")
    common.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)
    parser = argparse.ArgumentParser(prog="enclava", description="Enclava confidential AI gateway.")
    parser.add_argument("--version", action="version", version=f"enclava {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _kernel_commands(sub, common, None if ctx is None else ctx.plugins)
    if ctx is not None and plugin_commands:
        _plugin_commands(sub, ctx)
    return parser


def _fullest_parser(ctx: Context) -> argparse.ArgumentParser:
    """Plugin commands need settings and ``serve`` flags need plugins; kernel commands need
    neither, so ``--help`` and a clear configuration error stay reachable."""
    for plugin_commands in (True, False):
        with contextlib.suppress(ConfigError):
            return build_parser(ctx, plugin_commands=plugin_commands)
    return build_parser(None)


def _run(argv: Sequence[str]) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    known, _ = pre.parse_known_args(argv)
    config = known.config or (
        Path(os.environ[CONFIG_FILE_ENV]) if os.environ.get(CONFIG_FILE_ENV) else None
    )
    ctx = Context(config, {})
    parser = _fullest_parser(ctx)
    args, extra = parser.parse_known_args(argv)
    if extra:
        getattr(args, "command_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    _configure_logging(verbose=getattr(args, "verbose", False), serving=args.handler is _serve)
    if args.handler is not _serve:
        gc.enable()  # off while the command booted (kernel/entry.py); a kernel start enables it
    handler: Handler = args.handler
    return handler(args, ctx)


def _version() -> str:
    try:
        return version("enclava")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _configure_logging(*, verbose: bool, serving: bool) -> None:
    """Libraries speak at WARNING unless ``--verbose``; Enclava's own lines at INFO while
    serving (what it found at start), at WARNING for one-shot commands."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)  # also when a handler was already installed
    if serving and not verbose:
        for ours in OWN_LOGGERS:
            logging.getLogger(ours).setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``enclava`` console script."""
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"enclava: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreUnavailableError as exc:
        print(f"enclava: {exc.message}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except EnclavaError as exc:
        print(f"enclava: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
