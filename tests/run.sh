#!/usr/bin/env bash
# Runs the whole test suite: as the current user, and, when run as root, once
# more as an unprivileged user (developers run pkgwarden unprivileged).
#
#   tests/run.sh            every test; as root, the same test binaries also run
#                           as $PKGWARDEN_TEST_USER (default pkgwarden-test) if
#                           that user exists, overlapped with root's run (its
#                           output follows root's); PKGWARDEN_TEST_SEQUENTIAL=1
#                           runs the two one after the other
#   PKGWARDEN_TEST_RUNNER=nextest tests/run.sh -E EXPR
#                           only the tests a nextest filter expression selects
#
# PKGWARDEN_TEST_RUNNER=nextest runs each user's tests as one cargo-nextest
# pool of $PKGWARDEN_TEST_THREADS (default 3) tests across all binaries, each
# test in its own process, and lists the slow ones. Measured on the 2-CPU
# machine, root and the unprivileged user overlapped, it took longer than
# cargo test's one binary at a time with one thread per CPU (root's tests
# 2,644 s against about 2,300 s expected), so cargo test stays the default.
#
# The integration tests drive the release build of pkgwarden (what install.sh
# installs and users run): in a debug build the supervisor's own work made
# the suite about a fifth slower. PKGWARDEN_TEST_BIN=<path> picks another.
#
# The tests need python3 with venv, node and npm on PATH; .ci/run installs them
# on a fresh machine and creates the unprivileged user.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
user="${PKGWARDEN_TEST_USER:-pkgwarden-test}"

status=0
# Each phase's start, so that a CI log shows where its time went.
phase() { echo "tests/run.sh: $(date -u +%H:%M:%S) $*"; }
phase "build"
# The pkgwarden under test and its preload library (a cdylib, which cargo
# test does not build) from a release build; the test binaries from cargo
# test. Everything is built before any test runs, so the two runs overlap.
cargo build --release --quiet
# The shim executable as install.sh links it (statically), so that the
# tests drive what is installed; the dynamic one where that cannot link.
cargo rustc --release --quiet --bin pkgwarden-shim -- -C target-feature=+crt-static \
  || cargo build --release --quiet
export PKGWARDEN_TEST_BIN="${PKGWARDEN_TEST_BIN:-$here/target/release/pkgwarden}"
cargo test --all-targets --no-run --quiet 2>&1 | grep -v '^ *Executable' || true

threads="${PKGWARDEN_TEST_THREADS:-3}"
runner="${PKGWARDEN_TEST_RUNNER:-cargo}"
if [ "$runner" = nextest ] && ! cargo nextest --version >/dev/null 2>&1; then
  echo "tests/run.sh: cargo-nextest is not installed; running cargo test"
  runner=cargo
fi

unprivileged=1
if [ "$(id -u)" != 0 ] || ! id "$user" >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] && echo "tests/run.sh: no user '$user'; skipped the unprivileged run (.ci/run creates it)"
  unprivileged=0
fi

nextest_flags=(--no-fail-fast --test-threads "$threads" --failure-output immediate-final
  --success-output never --status-level fail --final-status-level slow)

root_run() {
  phase "tests as $(id -un) start"
  echo "== tests as $(id -un) (uid $(id -u)), $runner"
  if [ "$runner" = nextest ]; then
    cargo nextest run --workspace --all-targets --cargo-quiet "${nextest_flags[@]}" "$@" 2>&1
  else
    cargo test --all-targets --no-fail-fast 2>&1
  fi
}

if [ "$unprivileged" = 0 ]; then
  root_run "$@" || status=1
  exit "$status"
fi

# The unprivileged user may not be able to read this checkout (it may sit in
# root's home), so the test binaries, the pkgwarden binary and the files the
# tests read are mirrored into a world-readable directory first.
mirror="$(mktemp -d /var/tmp/pkgwarden-tests.XXXXXX)"
trap 'rm -rf "$mirror"' EXIT
mkdir -p "$mirror/bin"
cp -a tests policy shims install.sh Cargo.toml README.md docs ci action.yml "$mirror/"
cargo test --all-targets --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])
' > "$mirror/tests.list"
while read -r t; do cp "$t" "$mirror/bin/"; done < "$mirror/tests.list"
if [ "$runner" = nextest ]; then
  # The same binaries as an archive that cargo-nextest runs without cargo
  # (the unprivileged user has none), extracted where that user may write.
  cargo nextest archive --workspace --all-targets --cargo-quiet \
    --archive-file "$mirror/tests.tar.zst" 2>&1 | grep -v '^ *\(Archiving\|Archived\)' || true
  cp "$(command -v cargo-nextest)" "$mirror/cargo-nextest"
  # Each test runs in its package's directory, remapped under the mirror.
  mkdir -p "$mirror/src/nest"
fi
cp "$PKGWARDEN_TEST_BIN" "$mirror/pkgwarden"
# The shims link to the shim executable beside pkgwarden.
shim_bin="$(dirname "$PKGWARDEN_TEST_BIN")/pkgwarden-shim"
[ -f "$shim_bin" ] && cp "$shim_bin" "$mirror/pkgwarden-shim"
cp "$(dirname "$PKGWARDEN_TEST_BIN")/libpkgwarden_nest.so" "$mirror/"
chmod -R a+rX "$mirror"
user_home="$(getent passwd "$user" | cut -d: -f6)"

as_user() {
  (cd "$mirror" && runuser -u "$user" -- env -i \
      HOME="$user_home" USER="$user" LOGNAME="$user" TMPDIR=/tmp \
      PATH=/usr/local/bin:/usr/bin:/bin \
      PKGWARDEN_TEST_ROOT="$mirror" PKGWARDEN_TEST_BIN="$mirror/pkgwarden" \
      "$@")
}

unprivileged_run() {
  phase "tests as $user start"
  echo "== tests as $user (uid $(id -u "$user")), $runner"
  if [ "$runner" = nextest ]; then
    local extract
    extract="$(as_user mktemp -d /tmp/pkgwarden-nextest.XXXXXX)"
    local st=0
    as_user "$mirror/cargo-nextest" nextest run --archive-file "$mirror/tests.tar.zst" \
      --workspace-remap "$mirror" --extract-to "$extract" "${nextest_flags[@]}" "$@" || st=1
    rm -rf "$extract"
    return "$st"
  fi
  local st=0
  for t in "$mirror"/bin/*; do
    echo "-- $(basename "$t")"
    as_user "$t" || st=1
  done
  return "$st"
}

if [ "${PKGWARDEN_TEST_SEQUENTIAL:-0}" = 1 ]; then
  root_run "$@" || status=1
  unprivileged_run "$@" || status=1
  exit "$status"
fi

# The two runs share nothing but the machine (each test has its own HOME,
# registries and ports), and each spends much of its time on one slow test
# per binary with the other CPU idle: overlapped, they finish sooner.
unprivileged_run "$@" > "$mirror/unprivileged.log" 2>&1 &
upid=$!
root_run "$@" || status=1
phase "tests as $(id -un) done"
wait "$upid" || status=1
phase "tests as $user done"
cat "$mirror/unprivileged.log"
exit "$status"
