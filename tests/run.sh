#!/usr/bin/env bash
# Runs the whole test suite: as the current user, and, when run as root, once
# more as an unprivileged user (developers run pkgwarden unprivileged).
#
#   tests/run.sh            cargo test; then, as root, the same test binaries as
#                           $PKGWARDEN_TEST_USER (default pkgwarden-test) if that user exists
#
# The tests need python3 with venv, node and npm on PATH; .ci/run installs them
# on a fresh machine and creates the unprivileged user.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
user="${PKGWARDEN_TEST_USER:-pkgwarden-test}"

echo "== tests as $(id -un) (uid $(id -u))"
status=0
# cargo test does not build the preload library (a cdylib) the tests'
# pkgwarden loads from beside itself: cargo build does.
cargo build --quiet
cargo test --all-targets --no-fail-fast 2>&1 || status=1

if [ "$(id -u)" != 0 ] || ! id "$user" >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] && echo "tests/run.sh: no user '$user'; skipped the unprivileged run (.ci/run creates it)"
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
cp target/debug/pkgwarden "$mirror/pkgwarden"
cp target/debug/libpkgwarden_nest.so "$mirror/"
chmod -R a+rX "$mirror"

echo "== tests as $user (uid $(id -u "$user"))"
user_home="$(getent passwd "$user" | cut -d: -f6)"
for t in "$mirror"/bin/*; do
  echo "-- $(basename "$t")"
  (cd "$mirror" && runuser -u "$user" -- env -i \
      HOME="$user_home" USER="$user" LOGNAME="$user" TMPDIR=/tmp \
      PATH=/usr/local/bin:/usr/bin:/bin \
      PKGWARDEN_TEST_ROOT="$mirror" PKGWARDEN_TEST_BIN="$mirror/pkgwarden" \
      "$t") || status=1
done
exit "$status"
