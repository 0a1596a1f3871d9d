#!/usr/bin/env bash
# Builds pkgwarden, installs the binary and the shims, and prints the PATH line.
#
#   ./install.sh                   build (cargo build --release) and install to ~/.local/bin
#   ./install.sh --bin PATH        install a binary built elsewhere (the shim
#                                  executable pkgwarden-shim and the preload library
#                                  libpkgwarden_nest.so beside it go too)
#   ./install.sh --prefix DIR      install the binary to DIR/bin
#   ./install.sh --shims-dir DIR   put the shims in DIR (default ~/.local/share/pkgwarden/shims)
#   ./install.sh --ci              also print the CI recipes (pkgwarden ci env, the actions)
#   ./install.sh --uninstall       remove the shims and the binary
#
# Re-running it changes nothing. It never edits shell start-up files.
set -euo pipefail

prefix="${HOME:?HOME must be set}/.local"
bin=""
shims_dir=""
ci=0
uninstall=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --bin) bin="${2:?--bin needs a path}"; shift 2 ;;
    --shims-dir) shims_dir="${2:?--shims-dir needs a directory}"; shift 2 ;;
    --ci) ci=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
dest="$prefix/bin/pkgwarden"
dir_args=()
[ -n "$shims_dir" ] && dir_args=(--dir "$shims_dir")

lib_dest="$prefix/lib/pkgwarden/libpkgwarden_nest.so"
shim_dest="$prefix/bin/pkgwarden-shim"
if [ "$uninstall" = 1 ]; then
  if [ -x "$dest" ]; then
    "$dest" shims uninstall "${dir_args[@]}"
    rm -f "$dest" "$shim_dest" "$lib_dest"
    echo "install.sh: removed $dest"
  else
    echo "install.sh: no pkgwarden at $dest; nothing to remove"
  fi
  exit 0
fi

if [ -z "$bin" ]; then
  command -v cargo >/dev/null || { echo "install.sh: cargo not found; install Rust (rustup), or pass --bin PATH with a prebuilt pkgwarden" >&2; exit 1; }
  # A rustup proxy with no toolchain passes `command -v` and fails only
  # inside the build, with rustup's own trace: ask it first.
  if ! cargo --version >/dev/null 2>&1; then
    echo "install.sh: $(command -v cargo) cannot run (no Rust toolchain installed?); run 'rustup default stable', or pass --bin PATH with a prebuilt pkgwarden" >&2
    exit 1
  fi
  (cd "$here" && cargo build --release --quiet)
  # The shim executable linked statically: no dynamic loader on the path
  # of every non-install call (README, "Performance"). Where the static C
  # library is missing, the dynamic one cargo build made stays.
  if ! (cd "$here" && cargo rustc --release --quiet --bin pkgwarden-shim -- -C target-feature=+crt-static); then
    echo "install.sh: note: could not link pkgwarden-shim statically (libc6-dev missing?); the dynamic one is installed, each non-install call costs about 0.2 ms more" >&2
    (cd "$here" && cargo build --release --quiet)
  fi
  bin="$here/target/release/pkgwarden"
fi
[ -x "$bin" ] || { echo "install.sh: $bin is not an executable" >&2; exit 1; }

mkdir -p "$prefix/bin"
if cmp -s "$bin" "$dest"; then
  echo "install.sh: $dest is up to date"
else
  # Copy then rename, so a running pkgwarden is never overwritten in place.
  cp "$bin" "$dest.new.$$"
  chmod 755 "$dest.new.$$"
  mv -f "$dest.new.$$" "$dest"
  echo "install.sh: installed $dest"
fi

# The shim executable the shims link to (pkgwarden finds it beside itself).
shim="$(dirname "$bin")/pkgwarden-shim"
if [ -f "$shim" ]; then
  if ! cmp -s "$shim" "$shim_dest"; then
    cp "$shim" "$shim_dest.new.$$"
    chmod 755 "$shim_dest.new.$$"
    mv -f "$shim_dest.new.$$" "$shim_dest"
    echo "install.sh: installed $shim_dest"
  fi
else
  rm -f "$shim_dest"
  echo "install.sh: WARNING: no pkgwarden-shim beside $bin: the shims link to pkgwarden itself, and each non-install call pays its full start-up (build with cargo build --release, which makes it)" >&2
fi

# The preload library that confines build backends, setup.py and extconf.rb
# (pkgwarden finds it in ../lib/pkgwarden beside its binary).
lib="$(dirname "$bin")/libpkgwarden_nest.so"
if [ -f "$lib" ]; then
  mkdir -p "$(dirname "$lib_dest")"
  if ! cmp -s "$lib" "$lib_dest"; then
    cp "$lib" "$lib_dest.new.$$"
    chmod 644 "$lib_dest.new.$$"
    mv -f "$lib_dest.new.$$" "$lib_dest"
    echo "install.sh: installed $lib_dest"
  fi
else
  echo "install.sh: WARNING: no libpkgwarden_nest.so beside $bin: build backends, setup.py and extconf.rb will run with the install's rights and every install that runs them reports sandbox.unnested (build with cargo build --release, which makes it)" >&2
fi

"$dest" shims install "${dir_args[@]}"
dir="${shims_dir:-$("$dest" shims env --shell bash | sed -n "s/^_pkgwarden_shims='\\(.*\\)'\$/\\1/p")}"

# The shims line above names the binary by its full path; a bare
# `pkgwarden` needs its directory on PATH, which a clean PATH lacks.
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *)
    case "$(basename "${SHELL:-bash}")" in
      zsh) fix="echo 'export PATH=\"$prefix/bin:\$PATH\"' >> ~/.zshrc" ;;
      fish) fix="fish_add_path '$prefix/bin'" ;;
      *) fix="echo 'export PATH=\"$prefix/bin:\$PATH\"' >> ~/.bashrc" ;;
    esac
    echo "install.sh: $prefix/bin is not on PATH, so 'pkgwarden' alone is not found; this line fixes it (then open a new shell):"
    echo "  $fix"
    ;;
esac

if [ "$ci" = 1 ]; then
  cat <<TXT
Any runner (README, "CI"): shims first and block mode, then the post step:
  eval "\$('$dest' ci env)"
  '$dest' ci check --summary summary.md --sarif pkgwarden.sarif
GitHub Actions: uses: OWNER/pkgwarden@REF, and last, with if: always(),
  uses: OWNER/pkgwarden/ci/github/check@REF
  (or a step running '$dest' ci env --github, which appends the shims
  $dir to \$GITHUB_PATH and PKGWARDEN_MODE to \$GITHUB_ENV)
GitLab CI: include ci/gitlab/pkgwarden.yml and extend .pkgwarden
TXT
fi
