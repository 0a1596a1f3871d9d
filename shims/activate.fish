# pkgwarden shims for fish: put them first on PATH.
# Add this line to ~/.config/fish/config.fish (pkgwarden never edits your start-up files itself).
fish_add_path --global --prepend --move "@SHIMS_DIR@"
