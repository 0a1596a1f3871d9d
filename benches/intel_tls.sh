#!/usr/bin/env bash
# What inspecting registries over TLS costs (issue 15): one `npm install` of
# 40 packages from a loopback registry over TLS through `pkgwarden run`,
# with a feed present (the registry's TLS terminated, every archive looked
# up) and without (a plain CONNECT tunnel), alternating ABBA in the same
# run; medians and ratio. PW_BENCH_PAIRS sets the pairs (default 6).
# The work is the ignored test bench_npm_over_tls_with_and_without_a_feed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --test integration intel_tls::bench_npm_over_tls -- --ignored --nocapture --test-threads 1 2>&1 |
  grep -E '^intel-tls |panicked|FAILED'
