#!/usr/bin/env bash
# Sandboxed install vs bare manager, same run, loopback registries:
# pip installing 20 generated wheels, npm installing a 300-package tree, gem
# installing 20 gems from a `gem generate_index` source; and npm's tree again
# with a fresh cache each run, without a feed and with a 200,000-record
# offline feed (issue 15: the feed's cost against no feed).
# Prints medians, the ratio, notifications handled and the added cost per
# notification. The work is in tests/bench_sandbox.rs (ignored as a test).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test integration bench_sandbox:: -- --ignored --nocapture --test-threads 1 2>&1 |
  grep -E "bare .* sandboxed|last sandboxed run|feed on / feed off|records imported|panicked|FAILED"
