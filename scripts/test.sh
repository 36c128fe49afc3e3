#!/usr/bin/env bash
# Every check and every test of the workspace: formatting, clippy with
# warnings denied, unit, integration and doc tests, then the MCP interop
# suite (interop/run.sh: real third-party MCP servers on loopback against our
# client).
# Installs what the tests need when it is missing (redis-server and
# redis-cli, and for the interop suite curl, python3 with venv and npm, from
# Debian's packages), so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
# interop/run.sh: curl, npm (node >= 22 and the servers come from npm into its
# cache), python3 able to make a venv with pip (ensurepip, or the system pip).
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if ! command -v python3 >/dev/null 2>&1; then
  need_apt+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip' >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]} with apt-get ..." >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi
# A package install may start a system redis on 6379; our tests never use it
# (the harness spawns its own servers on free loopback ports).

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done

echo "test.sh: cargo fmt --check" >&2
cargo fmt --all --check
echo "test.sh: cargo clippy" >&2
# Every feature on (the only one is connector-agent's optional `rig`), and
# the agent crate once without it, so both builds are checked.
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo clippy -p connector-agent --lib --locked -- -D warnings
echo "test.sh: cargo test (unit, integration, doc)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set -o pipefail
cargo test --workspace --all-features --locked 2>&1 | tee "$log"
echo "test.sh: MCP interop (interop/run.sh)" >&2
interop/run.sh </dev/null | tee -a "$log"
# One closing line for the whole run: cargo's tests (cargo prints one line per
# test binary, the last of which may be a crate with no doctests) plus the
# interop checks.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     /^interop: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
