#!/usr/bin/env bash
# The run command: create .venv when missing, install Enclava (no dev extras, pinned by
# constraints.txt), then run `enclava serve` with any arguments given, e.g.
#
#   ./scripts/serve.sh --host 0.0.0.0 --port 8000 --workers 4 --config config/production.toml
#
# Runs from the repository root (so the default data_dir "./data" is <repo>/data and a relative
# --config path is relative to the repository). PYTHON=/path/to/python3.11 picks the interpreter.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

bootstrap_venv base
exec "$VENV/bin/enclava" serve "$@"
