#!/usr/bin/env bash
# Passthrough cost: a non-install command through the shim vs the bare manager,
# in the same run, as a ratio and as milliseconds added per call; and the same
# call through a link to the full pkgwarden (the shims before the shim
# executable existed), to show what the shim executable saves.
#
#   benches/passthrough.sh            (needs hyperfine; builds the release binaries,
#                                      the shim executable statically as install.sh does)
#   ROUNDS=5 benches/passthrough.sh   more rounds (default 3; the order of the
#                                      commands alternates from round to round)
#
# Three managers: a minimal stand-in (`/bin/true` behind the name `conda`) that
# isolates pkgwarden's own start-up cost, and the real pip (in a virtualenv)
# and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
command -v hyperfine >/dev/null || { echo "benches: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
(cd "$here" && cargo build --release --quiet &&
  { cargo rustc --release --quiet --bin pkgwarden-shim -- -C target-feature=+crt-static ||
    echo "benches: the shim executable is linked dynamically (no static libc)" >&2; })
bin="$here/target/release/pkgwarden"
rounds="${ROUNDS:-3}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_DATA_HOME="$work/home/.local/share"
mkdir -p "$HOME" "$work/real" "$work/full"
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
# The shims as they were: links to the full binary (called by path, it finds
# the same real manager on PATH).
for n in conda pip npm; do ln -s "$bin" "$work/full/$n"; done

run() { # name, shim command, full-binary command, bare command, runs
  local r
  for r in $(seq "$rounds"); do
    local cmds=(-n shim "$2" -n full "$3" -n bare "$4")
    [ $((r % 2)) = 0 ] && cmds=(-n bare "$4" -n full "$3" -n shim "$2")
    # Its warnings about outliers go to a file: the rounds show the spread.
    hyperfine -N --warmup 5 --runs "$5" --export-json "$work/$1.$r.json" "${cmds[@]}" \
      >/dev/null 2>>"$work/hyperfine.log"
  done
  python3 - "$1" "$work/$1".*.json <<'PY'
import json, statistics, sys
rows = []
for f in sys.argv[2:]:
    r = {x["command"]: x for x in json.load(open(f))["results"]}
    rows.append({k: v["median"] * 1e3 for k, v in r.items()})
med = {k: statistics.median(row[k] for row in rows) for k in ("bare", "shim", "full")}
added = lambda k: statistics.median(r[k] - r["bare"] for r in rows)
spread = lambda k: f'{min(r[k]-r["bare"] for r in rows):.2f}…{max(r[k]-r["bare"] for r in rows):.2f}'
ratio = statistics.median(r["shim"] / r["bare"] for r in rows)
print(f'{sys.argv[1]:<16} bare {med["bare"]:8.2f} ms   shim +{added("shim"):.2f} ms ({spread("shim")})   '
      f'full binary +{added("full"):.2f} ms ({spread("full")})   ratio shim {ratio:5.3f}')
PY
}

echo "medians of $rounds rounds (each a hyperfine median), order alternating; same machine, same run"
run "conda (true)" "$shims/conda --version" "$work/full/conda --version" "$work/real/conda --version" 300
run "pip --version" "$shims/pip --version" "$work/full/pip --version" "$real_pip --version" 40
run "npm --version" "$shims/npm --version" "$work/full/npm --version" "$real_npm --version" 40
# pkgwarden's own start-up against /bin/true.
hyperfine -N --warmup 5 --runs 300 --export-json "$work/version.json" \
  -n pkgwarden "$bin --version" -n true "/bin/true --version" >/dev/null 2>>"$work/hyperfine.log"
python3 - "$work/version.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] * 1e3 for x in json.load(open(sys.argv[1]))["results"]}
print(f'pkgwarden --version {r["pkgwarden"]:.2f} ms, /bin/true {r["true"]:.2f} ms: '
      f'{r["pkgwarden"]-r["true"]:.2f} ms over')
PY
