#!/usr/bin/env bash
# Runs the cargo-fuzz targets of connector-mcp (the SSE parser and JSON-RPC
# parsing), each for FUZZ_SECONDS (default 120). Installs cargo-fuzz when it
# is missing. Uses the nightly toolchain when rustup has one, otherwise the
# stable compiler with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags).
# What a run finds: copy the input from crates/connector-mcp/fuzz/artifacts/
# into fuzz/corpus/<target>/seed-<name>, where tests/fuzz_corpus.rs replays
# it on every test run, and fix the bug.
set -euo pipefail
cd "$(dirname "$0")/../crates/connector-mcp"
seconds="${FUZZ_SECONDS:-120}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
for target in sse jsonrpc; do
    echo "fuzz: $target for ${seconds}s"
    cargo "${toolchain[@]}" fuzz run -O "$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048
done
