#!/usr/bin/env bash
# The GitHub action's post step (ci/github/check, run with `if: always()`):
# `pkgwarden ci check` with the job's step summary and a SARIF file. Fails
# with 90 when an install of the job was blocked, 91 when a later step put
# another manager ahead of the shims. Inputs: PKGWARDEN_INPUT_SARIF,
# PKGWARDEN_INPUT_SUMMARY (default $GITHUB_STEP_SUMMARY).
set -euo pipefail
args=()
summary="${PKGWARDEN_INPUT_SUMMARY:-${GITHUB_STEP_SUMMARY:-}}"
if [ -n "$summary" ]; then
  args+=(--summary "$summary")
fi
if [ -n "${PKGWARDEN_INPUT_SARIF:-}" ]; then
  args+=(--sarif "$PKGWARDEN_INPUT_SARIF")
fi
exec "${PKGWARDEN_BIN:-pkgwarden}" ci check "${args[@]}"
