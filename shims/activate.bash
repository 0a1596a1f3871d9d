# pkgwarden shims for bash: keep them first on PATH.
# Add to ~/.bashrc: eval "$(pkgwarden shims env --shell bash)" (or paste this
# text; pkgwarden never edits your start-up files itself).
# Before each prompt the shims are moved back in front of whatever an
# activated virtualenv, nvm, conda, pyenv … put there, so `pip` is still
# monitored; the real one behind the shim is then the activated one.
# Builtins only: no process is started per prompt. PKGWARDEN_SHELL_HOOK=0
# turns the per-prompt step off (the shims are then put first once, here).
_pkgwarden_shims='@SHIMS_DIR@'
# Exported so that `pkgwarden doctor` can tell the hook is loaded.
export PKGWARDEN_SHELL_INTEGRATION=bash
_pkgwarden_first() {
  case ":$PATH:" in
    ":$_pkgwarden_shims:"*) return ;;
  esac
  local rest=":$PATH:"
  while [[ $rest == *":$_pkgwarden_shims:"* ]]; do
    rest=${rest//":$_pkgwarden_shims:"/:}
  done
  rest=${rest#:}
  rest=${rest%:}
  export PATH="$_pkgwarden_shims${rest:+:$rest}"
}
_pkgwarden_hook() {
  [[ ${PKGWARDEN_SHELL_HOOK:-1} == 0 ]] || _pkgwarden_first
}
_pkgwarden_first
# Last in PROMPT_COMMAND, so it runs after hooks that prepend their own dirs.
if [[ $'\n'${PROMPT_COMMAND:-}$'\n' != *$'\n_pkgwarden_hook\n'* ]]; then
  PROMPT_COMMAND="${PROMPT_COMMAND:+$PROMPT_COMMAND$'\n'}_pkgwarden_hook"
fi
