#!/usr/bin/env bash
# Passthrough cost: a non-install command through the shim vs the bare manager,
# in the same run, as a ratio and as milliseconds added per call.
#
#   benches/passthrough.sh            (needs hyperfine; builds the release binary)
#
# Three managers: a minimal stand-in (`/bin/true` behind the name `conda`) that
# isolates pkgwarden's own start-up cost, and the real pip (in a virtualenv)
# and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
command -v hyperfine >/dev/null || { echo "benches: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
(cd "$here" && cargo build --release --quiet)
bin="$here/target/release/pkgwarden"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_DATA_HOME="$work/home/.local/share"
mkdir -p "$HOME" "$work/real"
cp /bin/true "$work/real/conda"
shims="$work/shims"
PATH="$work/real:$PATH" "$bin" shims install --dir "$shims" >/dev/null
export PATH="$shims:$work/real:$PATH" PKGWARDEN_SHIMS_DIR="$shims"
export PIP_DISABLE_PIP_VERSION_CHECK=1 npm_config_update_notifier=false

# A virtualenv's pip: the real pip itself, not a version manager's wrapper script.
python3 -m venv "$work/venv"
export PATH="$shims:$work/venv/bin:${PATH#"$shims:"}"
real_pip="$work/venv/bin/pip"
real_npm="$(PATH="${PATH#"$shims:"}" command -v npm)"

run() { # name, shim command, bare command
  hyperfine -N --warmup 5 --runs "$4" --export-json "$work/$1.json" \
    -n "$1 via shim" "$2" -n "$1 bare" "$3" >/dev/null
  python3 - "$work/$1.json" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
shim, bare = (x["median"] for x in r)
print(f"{sys.argv[2]:<16} bare {bare*1e3:8.2f} ms   shim {shim*1e3:8.2f} ms   "
      f"added {(shim-bare)*1e3:6.2f} ms   ratio {shim/bare:5.3f}")
PY
}

echo "median of each; same machine, same run"
run "conda (true)" "$shims/conda --version" "$work/real/conda --version" 300
run "pip --version" "$shims/pip --version" "$real_pip --version" 60
run "npm --version" "$shims/npm --version" "$real_npm --version" 60
