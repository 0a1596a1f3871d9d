#!/usr/bin/env bash
# The GitHub action's setup step: installs pkgwarden for this job (from this
# checkout with cargo, or the binary named by the `binary` input) and puts
# its shims first on PATH for the next steps (`pkgwarden ci env --github`).
# Inputs arrive as PKGWARDEN_INPUT_MODE and PKGWARDEN_INPUT_BINARY.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="${RUNNER_TEMP:?RUNNER_TEMP is set by the runner}/pkgwarden"
args=(--prefix "$prefix")
if [ -n "${PKGWARDEN_INPUT_BINARY:-}" ]; then
  args+=(--bin "$PKGWARDEN_INPUT_BINARY")
fi
"$root/install.sh" "${args[@]}"
bin="$prefix/bin/pkgwarden"
# The binary's directory first, the shims after it: the runner puts the
# last line of GITHUB_PATH first, so the shims end up ahead of both.
echo "$prefix/bin" >> "$GITHUB_PATH"
# The post step finds pkgwarden by its path, whatever a later step does to PATH.
echo "PKGWARDEN_BIN=$bin" >> "$GITHUB_ENV"
"$bin" ci env --github --mode "${PKGWARDEN_INPUT_MODE:-block}"
