# pkgwarden shims for bash: put them first on PATH.
# Add this line to ~/.bashrc (pkgwarden never edits your start-up files itself).
export PATH="@SHIMS_DIR@:$PATH"
