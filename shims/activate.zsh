# pkgwarden shims for zsh: put them first on PATH.
# Add this line to ~/.zshrc (pkgwarden never edits your start-up files itself).
export PATH="@SHIMS_DIR@:$PATH"
