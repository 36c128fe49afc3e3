#!/usr/bin/env bash
# Everything in the MCP client benchmark, in one run: our client, rmcp's
# client (as it comes and with keep-alive), the raw floor and the official
# Python SDK client, against one rmcp streamable HTTP server.
#
#   benches/mcp-client/run.sh            # the whole benchmark
#   benches/mcp-client/run.sh --no-python
#
# The Python SDK client (PyPI mcp, version MCP_PY_VERSION) is installed into a
# venv under ${XDG_CACHE_HOME:-~/.cache}/connectors-bench on first use.
# Environment variables understood by the bench are listed at the top of
# benches/mcp_client.rs (MCP_BENCH_ROUNDS, MCP_BENCH_ONLY, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MCP_PY_VERSION="${MCP_PY_VERSION:-2.3.0}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/connectors-bench"
venv="$cache/venv-mcp-$MCP_PY_VERSION"

if [ "${1:-}" = "--no-python" ]; then
  shift
else
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import mcp' >/dev/null 2>&1; then
    echo "creating $venv (PyPI mcp==$MCP_PY_VERSION) ..." >&2
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip >&2
    "$venv/bin/pip" install -q "mcp==$MCP_PY_VERSION" >&2
  fi
  export MCP_BENCH_PYTHON="$venv/bin/python"
fi

exec cargo bench --manifest-path "$here/Cargo.toml" "$@"
