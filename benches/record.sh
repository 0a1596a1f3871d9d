#!/bin/sh
# The cost of the RECORD verification and of the start-up detonation on a
# large environment: a virtualenv with N tiny distributions (default 300),
# then sandboxed installs (protect) of one more wheel, with and without a
# .pth (the detonation runs only for the one with). Reads the report's
# timings: record_check (stat before, hash after) and detonation_ms, against
# the whole install. Offline: wheels from a local directory (--no-index).
#
# usage: benches/record.sh [N] [RUNS]
set -eu
n="${1:-300}"
runs="${2:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${PKGWARDEN_BIN:-$root/target/debug/pkgwarden}"
work="$(mktemp -d /var/tmp/pkgwarden-record-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home"
mkdir -p "$HOME" "$work/wheels"

python3 - "$work/wheels" "$n" <<'EOF'
import base64, hashlib, sys, zipfile
out, n = sys.argv[1], int(sys.argv[2])
def wheel(name, files):
    files = dict(files)
    info = f"{name}-1.0.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    rec = []
    for p, d in files.items():
        h = base64.urlsafe_b64encode(hashlib.sha256(d.encode()).digest()).rstrip(b"=").decode()
        rec.append(f"{p},sha256={h},{len(d)}")
    rec.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(rec) + "\n"
    with zipfile.ZipFile(f"{out}/{name}-1.0-py3-none-any.whl", "w") as z:
        for p, d in files.items():
            z.writestr(p, d)
for i in range(n):
    name = f"pwbench{i:03d}"
    wheel(name, {f"{name}/__init__.py": f"X = {i}\n", f"{name}/a.py": "A = 1\n",
                 f"{name}/b.py": "B = 2\n", f"{name}/data.txt": "x" * 200})
wheel("pwbenchnew", {"pwbenchnew/__init__.py": "\n"})
wheel("pwbenchpth", {"pwbenchpth/__init__.py": "\n", "pwbenchpth.pth": "import pwbenchpth\n"})
EOF

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --no-index --find-links "$work/wheels" \
  $(cd "$work/wheels" && ls pwbench[0-9]*.whl | sed 's/-1.0-.*//')
echo "environment: $("$work/venv/bin/pip" list 2>/dev/null | tail -n +3 | wc -l) distributions"

for pkg in pwbenchnew pwbenchpth; do
  for i in $(seq "$runs"); do
    PATH="$work/venv/bin:$PATH" PKGWARDEN_TIME_WINDOW=0s "$bin" run --mode protect -- \
      pip install -q --no-index --find-links "$work/wheels" "$pkg" \
      >/dev/null 2>&1 || true
    "$bin" report show last --format json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
t = r["timings"]; rc = t.get("record_check") or {}
rec_ms = (rc.get("stat_us", 0) + rc.get("verify_us", 0)) / 1000
det = t.get("detonation_ms") or 0
total = r["duration_ms"]
base = max(total - rec_ms - det, 1)
d, f = rc.get("dists"), rc.get("files")
print(f"{sys.argv[1]}: total {total} ms, dists {d}, files {f}, record {rec_ms:.1f} ms, detonation {det} ms, ratio with/without {total / base:.3f}")
' "$pkg"
    "$work/venv/bin/pip" uninstall -q -y "$pkg" >/dev/null 2>&1 || true
  done
done
