# pkgwarden shims for zsh: keep them first on PATH.
# Add to ~/.zshrc: eval "$(pkgwarden shims env --shell zsh)" (or paste this
# text; pkgwarden never edits your start-up files itself).
# Before each prompt (precmd) the shims are moved back in front of whatever an
# activated virtualenv, nvm, conda, pyenv … put there, so `pip` is still
# monitored; the real one behind the shim is then the activated one.
# Builtins only: no process is started per prompt. PKGWARDEN_SHELL_HOOK=0
# turns the per-prompt step off (the shims are then put first once, here).
typeset -g _pkgwarden_shims='@SHIMS_DIR@'
# Exported so that `pkgwarden doctor` can tell the hook is loaded.
export PKGWARDEN_SHELL_INTEGRATION=zsh
_pkgwarden_first() {
  [[ "${path[1]}" == "$_pkgwarden_shims" ]] && return
  path=("$_pkgwarden_shims" ${path:#${(b)_pkgwarden_shims}})
  export PATH
}
_pkgwarden_hook() {
  [[ ${PKGWARDEN_SHELL_HOOK:-1} == 0 ]] || _pkgwarden_first
}
_pkgwarden_first
autoload -Uz add-zsh-hook
# add-zsh-hook adds a function once, however often this is sourced.
add-zsh-hook precmd _pkgwarden_hook
