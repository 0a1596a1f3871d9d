#!/usr/bin/env bash
# What the install proxy (src/monitor/proxy/) adds, against a direct
# download from a loopback origin, same run, alternating:
#  - latency: 2,000 GETs of 1 KiB per mode: direct (kept alive; a new
#    connection each), through the proxy as plain HTTP (kept alive; a new
#    connection each; by host name), and inside one CONNECT tunnel.
#    Median and mean per request, microseconds added, ratio.
#  - throughput: a 256 MiB generated body, direct / plain / tunnel: MB/s, ratio.
# The work is the ignored test monitor::proxy::bench in the binary crate.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --lib bench_proxy -- --ignored --nocapture --test-threads 1 2>&1 |
  grep -E '^(latency|throughput|recorded) |panicked|FAILED'
