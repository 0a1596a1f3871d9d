# pkgwarden shims for fish: keep them first on PATH.
# Add to ~/.config/fish/config.fish: pkgwarden shims env --shell fish | source
# (or paste this text; pkgwarden never edits your start-up files itself).
# Before each prompt the shims are moved back in front of whatever an
# activated virtualenv, nvm, conda, pyenv … put there, so `pip` is still
# monitored; the real one behind the shim is then the activated one.
# Builtins only: no process is started per prompt. PKGWARDEN_SHELL_HOOK=0
# turns the per-prompt step off (the shims are then put first once, here).
set -g _pkgwarden_shims '@SHIMS_DIR@'
# Exported so that `pkgwarden doctor` can tell the hook is loaded.
set -gx PKGWARDEN_SHELL_INTEGRATION fish
function _pkgwarden_first
    test "$PATH[1]" = "$_pkgwarden_shims"; and return
    set -l rest
    for d in $PATH
        test "$d" = "$_pkgwarden_shims"; or set -a rest $d
    end
    set -gx PATH $_pkgwarden_shims $rest
end
# A function defined again replaces the old one: sourcing twice adds nothing.
function _pkgwarden_hook --on-event fish_prompt
    test "$PKGWARDEN_SHELL_HOOK" = 0; or _pkgwarden_first
end
_pkgwarden_first
