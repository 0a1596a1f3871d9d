#!/usr/bin/env bash
# Runs the whole test suite: as the current user, and, when run as root, once
# more as an unprivileged user (developers run pkgwarden unprivileged).
#
#   tests/run.sh            cargo test; as root, the same test binaries also run
#                           as $PKGWARDEN_TEST_USER (default pkgwarden-test) if
#                           that user exists, overlapped with root's run (its
#                           output follows root's); PKGWARDEN_TEST_SEQUENTIAL=1
#                           runs the two one after the other
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
# The pkgwarden under test and its preload library (a cdylib, which cargo
# test does not build) from a release build; the test binaries from cargo
# test. Everything is built before any test runs, so the two runs overlap.
cargo build --release --quiet
export PKGWARDEN_TEST_BIN="${PKGWARDEN_TEST_BIN:-$here/target/release/pkgwarden}"
cargo test --all-targets --no-run --quiet 2>&1 | grep -v '^ *Executable' || true

unprivileged=1
if [ "$(id -u)" != 0 ] || ! id "$user" >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] && echo "tests/run.sh: no user '$user'; skipped the unprivileged run (.ci/run creates it)"
  unprivileged=0
fi

root_run() {
  echo "== tests as $(id -un) (uid $(id -u))"
  cargo test --all-targets --no-fail-fast 2>&1
}

if [ "$unprivileged" = 0 ]; then
  root_run || status=1
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
cp "$PKGWARDEN_TEST_BIN" "$mirror/pkgwarden"
cp "$(dirname "$PKGWARDEN_TEST_BIN")/libpkgwarden_nest.so" "$mirror/"
chmod -R a+rX "$mirror"
user_home="$(getent passwd "$user" | cut -d: -f6)"

unprivileged_run() {
  echo "== tests as $user (uid $(id -u "$user"))"
  local st=0
  for t in "$mirror"/bin/*; do
    echo "-- $(basename "$t")"
    (cd "$mirror" && runuser -u "$user" -- env -i \
        HOME="$user_home" USER="$user" LOGNAME="$user" TMPDIR=/tmp \
        PATH=/usr/local/bin:/usr/bin:/bin \
        PKGWARDEN_TEST_ROOT="$mirror" PKGWARDEN_TEST_BIN="$mirror/pkgwarden" \
        "$t") || st=1
  done
  return "$st"
}

if [ "${PKGWARDEN_TEST_SEQUENTIAL:-0}" = 1 ]; then
  root_run || status=1
  unprivileged_run || status=1
  exit "$status"
fi

# The two runs share nothing but the machine (each test has its own HOME,
# registries and ports), and each spends much of its time on one slow test
# per binary with the other CPU idle: overlapped, they finish sooner.
unprivileged_run > "$mirror/unprivileged.log" 2>&1 &
upid=$!
root_run || status=1
wait "$upid" || status=1
cat "$mirror/unprivileged.log"
exit "$status"
