# pkgwarden test stand-in for Homebrew's Library/Homebrew/brew.sh: only the
# lines pkgwarden reads (Homebrew's own defaults for where bottles and the
# formula API come from). The stand-in's defaults are loopback addresses
# nothing listens on, so an install must be given HOMEBREW_BOTTLE_DOMAIN.
HOMEBREW_API_DEFAULT_DOMAIN="http://127.0.0.1:9/api"
HOMEBREW_BOTTLE_DEFAULT_DOMAIN="http://127.0.0.1:9/bottles"
