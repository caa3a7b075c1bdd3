# shellcheck shell=bash
# Shared bootstrap for scripts/test.sh and scripts/serve.sh. Sourced, never run.
#
# After sourcing, the caller is in the repository root ($REPO_ROOT) and can call:
#   bootstrap_venv [dev]   create .venv if missing and install the project (with the dev extras
#                          when "dev" is given), skipped when nothing it depends on changed
#   log / die / step       messages on stderr

REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
VENV="$REPO_ROOT/.venv"
cd "$REPO_ROOT" || exit 1

log() { printf '%s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
step() { printf '\n==> %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" -eq 0 ]; }

_APT_UPDATED=0
# apt_install PACKAGE...: only as root; runs `apt-get update` once per script run.
apt_install() {
    is_root || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    log "Installing Debian packages: $*"
    if [ "$_APT_UPDATED" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# _python_ok PYTHON: true when PYTHON runs and is CPython >= 3.11.
_python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

# pick_python: sets PY from $PYTHON (default python3) and checks it is Python >= 3.11.
pick_python() {
    PY=${PYTHON:-python3}
    if ! command -v "$PY" >/dev/null 2>&1; then
        if [ -z "${PYTHON:-}" ] && apt_install python3 python3-venv; then
            :
        else
            die "no '$PY' found: install Python 3.11 or newer (Debian: apt-get install python3 python3-venv), or set PYTHON=/path/to/python3.11"
        fi
    fi
    if ! _python_ok "$PY"; then
        local version
        version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo "unknown")
        die "Enclava needs Python 3.11 or newer, but '$PY' is Python $version; set PYTHON=/path/to/python3.11 (or newer)"
    fi
}

_venv_usable() {
    [ -x "$VENV/bin/python" ] && _python_ok "$VENV/bin/python" &&
        "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

# ensure_venv: creates .venv with $PY when it is missing or broken.
ensure_venv() {
    _venv_usable && return 0
    if [ -e "$VENV" ]; then
        log "Recreating $VENV (missing pip or an unsupported Python)"
        rm -rf "$VENV"
    fi
    log "Creating $VENV with $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        # Debian ships venv/ensurepip separately (python3-venv / python3.X-venv).
        local minor pkgs
        minor=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        pkgs="python3-venv python${minor}-venv"
        if is_root && command -v apt-get >/dev/null 2>&1; then
            # shellcheck disable=SC2086 # word splitting of the package list is intended
            apt_install $pkgs || apt_install python3-venv ||
                die "could not install python3-venv with apt-get"
            "$PY" -m venv "$VENV" || {
                rm -rf "$VENV"
                die "'$PY -m venv' still fails after installing python3-venv"
            }
        else
            die "'$PY -m venv' is unavailable. Install it (Debian/Ubuntu: sudo apt-get install $pkgs) and rerun"
        fi
    fi
    _venv_usable || die "$VENV was created but has no working pip"
}

# _deps_hash: what an install depends on; a change in any of these triggers a reinstall.
_deps_hash() {
    {
        cat pyproject.toml constraints.txt
        printf '%s\n' "$REPO_ROOT"
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

# _pip ARGS...: pip in .venv, without the warnings about configured index folders that do not
# hold a package (noise from machine-wide pip configuration); pip's exit status is kept.
_pip() {
    { "$VENV/bin/python" -m pip "$@" 2>&1 1>&3 |
        { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2; } 3>&1
}

# bootstrap_venv [dev]: .venv with the project installed editable (plus extras "dev").
bootstrap_venv() {
    local mode=${1:-base} spec='.' hash stamp
    [ "$mode" = dev ] && spec='.[dev]'
    [ -f constraints.txt ] || die "constraints.txt is missing in $REPO_ROOT"
    pick_python
    ensure_venv
    hash=$(_deps_hash)
    stamp="$VENV/.enclava-install-$mode.sha256"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
        return 0
    fi
    # A dev install is a superset of the base one.
    if [ "$mode" = base ] && [ -f "$VENV/.enclava-install-dev.sha256" ] &&
        [ "$(cat "$VENV/.enclava-install-dev.sha256")" = "$hash" ]; then
        return 0
    fi
    step "Installing Enclava ($spec) into .venv"
    rm -f "$VENV"/.enclava-install-*.sha256
    _pip install -q --upgrade pip
    _pip install -q -e "$spec" -c constraints.txt
    printf '%s\n' "$hash" >"$stamp"
}
