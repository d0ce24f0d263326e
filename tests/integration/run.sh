#!/usr/bin/env bash
# Integration tests: the real server against throwaway PostgreSQL clusters.
#
#   TANDEM_BIN=build/tandem tests/integration/run.sh [pytest args...]
#
# e.g. tests/integration/run.sh -k metrics -x
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
if [[ -n ${TANDEM_BIN:-} && $TANDEM_BIN != /* ]]; then
	export TANDEM_BIN=$PWD/$TANDEM_BIN # relative to the caller, before cd
fi
cd "$REPO"
# No __pycache__ or .pytest_cache in the tree.
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
