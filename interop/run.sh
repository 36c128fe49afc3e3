#!/usr/bin/env bash
# MCP interop: real third-party MCP servers against our client.
#
#   interop/run.sh                 install what is missing, start the servers, check
#                                  them with raw curl exchanges, then run our client
#                                  (the connectors CLI probe and the connector-mcp
#                                  interop test) against each; stop everything
#   interop/run.sh --servers-only  the same without our client: start, print the URLs,
#                                  curl checks, stop
#   interop/run.sh --serve         start, print `export CONNECTORS_INTEROP_*=URL` lines,
#                                  curl checks, then keep serving until interrupted
#   interop/run.sh --reference-client
#                                  the client checks with interop/reference_client.py (the
#                                  official Python SDK client behind the same CLI contract)
#                                  instead of ours, to prove the checks; no cargo test
#
# Servers (all on 127.0.0.1, ports picked by the kernel):
#   npm @modelcontextprotocol/server-everything: legacy SSE, streamable HTTP
#   interop/servers/python_server.py on PyPI mcp: legacy SSE, streamable HTTP,
#     JSON responses, stateless, 2026-07-28 only
# One line per check (`ok NAME` / `FAIL NAME: why`), then `interop: N passed, N failed`;
# exit status 1 on any failure. See interop/README.md.
#
# Environment:
#   CONNECTORS_INTEROP_CACHE  where node 22, server-everything and the Python venv are
#                             installed (default ${XDG_CACHE_HOME:-$HOME/.cache}/connectors-interop)
#   CONNECTORS_BIN            the connectors binary (default: built with cargo from this checkout)
#   CONNECTORS_INTEROP_KEEP   1: keep the run folder (server logs) even when everything passed
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/interop"

# Pinned versions (verified together; bump deliberately).
V_EVERYTHING="2026.8.31"  # npm @modelcontextprotocol/server-everything
V_NODE="22.23.3"          # npm node-linux-<arch>, used when `node` is older than 22
V_MCP="2.3.0"             # PyPI mcp (official Python SDK)

CACHE="${CONNECTORS_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/connectors-interop}"
READY_TIMEOUT=60   # seconds for a server to answer after it was started
CURL_TIMEOUT=20    # seconds for one HTTP exchange of the curl checks
CLIENT_TIMEOUT=60  # seconds for one run of the connectors CLI
CARGO_TEST_TIMEOUT=300
INSTALL_TIMEOUT=600 # seconds for one try of one npm or pip install

mode=all
case "${1:-}" in
  "") ;;
  --servers-only) mode=servers ;;
  --serve) mode=serve ;;
  --reference-client) mode=reference ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: interop/run.sh [--servers-only|--serve|--reference-client]" >&2; exit 2 ;;
esac

log() { printf 'interop: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in curl python3 npm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
HAVE_JQ=0
command -v jq >/dev/null 2>&1 && HAVE_JQ=1

# ---------------------------------------------------------------- results
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s: %s\n' "$1" "$2"; }

# ---------------------------------------------------------------- run folder and cleanup
RUN="$(mktemp -d "${TMPDIR:-/tmp}/connectors-interop.XXXXXX")"
PIDS=()
NAMES=()
SLEEP_PID=""

stop_servers() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -z "$SLEEP_PID" ] || kill "$SLEEP_PID" 2>/dev/null || true
  stop_servers
  if [ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "${CONNECTORS_INTEROP_KEEP:-0}" != 1 ]; then
    rm -rf "$RUN"
  else
    log "logs kept in $RUN"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- installs
# retry N CMD...: run CMD up to N times, backing off 2, 4, 8... seconds.
retry() {
  local n="$1" i=1 delay=2
  shift
  until "$@"; do
    [ "$i" -ge "$n" ] && return 1
    log "failed (try $i of $n), retrying in ${delay}s: $*"
    sleep "$delay"
    i=$((i + 1)); delay=$((delay * 2))
  done
}

# npm_install DIR PKG VERSION: PKG@VERSION into DIR/node_modules (nothing global).
npm_install() {
  local dir="$1" pkg="$2" ver="$3"
  [ -f "$dir/node_modules/$pkg/package.json" ] &&
    grep -q "\"version\": *\"$ver\"" "$dir/node_modules/$pkg/package.json" && return 0
  log "installing npm $pkg@$ver into $dir ..."
  rm -rf "$dir"
  mkdir -p "$dir"
  printf '{ "name": "connectors-interop-deps", "private": true }\n' >"$dir/package.json"
  retry 3 timeout "$INSTALL_TIMEOUT" env npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
    npm install --prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error "$pkg@$ver" </dev/null >&2 ||
    { rm -rf "$dir"; die "npm install $pkg@$ver failed"; }
}

# NODE: a node >= 22 (server-everything needs it): the one on PATH, else the
# official binary that the npm package node-linux-<arch> ships.
ensure_node() {
  local major
  major="$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p')"
  if [ -n "$major" ] && [ "$major" -ge 22 ]; then NODE="$(command -v node)"; return; fi
  local arch
  case "$(uname -m)" in
    x86_64|amd64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) die "no node >= 22 on PATH and no node-linux package for $(uname -m)" ;;
  esac
  local dir="$CACHE/node-$V_NODE-$arch"
  npm_install "$dir" "node-linux-$arch" "$V_NODE"
  NODE="$dir/node_modules/node-linux-$arch/bin/node"
  [ -x "$NODE" ] || die "no node binary at $NODE"
}

ensure_everything() {
  local dir="$CACHE/server-everything-$V_EVERYTHING"
  npm_install "$dir" @modelcontextprotocol/server-everything "$V_EVERYTHING"
  EVERYTHING="$dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
  [ -f "$EVERYTHING" ] || die "no $EVERYTHING"
}

# PY: a Python with PyPI mcp==V_MCP, in its own venv.
ensure_python() {
  local dir="$CACHE/venv-mcp-$V_MCP"
  PY="$dir/bin/python"
  if [ -x "$PY" ] && "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '$V_MCP')" 2>/dev/null; then
    return
  fi
  log "creating a venv with PyPI mcp==$V_MCP in $dir ..."
  rm -rf "$dir"
  if python3 -m venv "$dir" >&2 2>/dev/null && [ -x "$dir/bin/pip" ]; then
    retry 3 timeout "$INSTALL_TIMEOUT" "$dir/bin/pip" install -q --disable-pip-version-check "mcp==$V_MCP" </dev/null >&2 ||
      { rm -rf "$dir"; die "pip install mcp==$V_MCP failed"; }
  else
    # No ensurepip (Debian without python3-venv): a bare venv filled by the system pip.
    rm -rf "$dir"
    python3 -m venv --without-pip "$dir" >&2 || die "python3 -m venv failed"
    retry 3 timeout "$INSTALL_TIMEOUT" python3 -m pip --python "$PY" install -q --disable-pip-version-check "mcp==$V_MCP" </dev/null >&2 ||
      { rm -rf "$dir"; die "pip install mcp==$V_MCP failed"; }
  fi
}

# ---------------------------------------------------------------- JSON helpers
# jget FILE PATH: jq-style PATH (.key, [N], [] and a final `| length`) on the JSON
# in FILE; strings print raw, anything else as compact JSON. jq when present,
# else python3.
jget() {
  local file="$1" path="$2"
  if [ "$HAVE_JQ" = 1 ]; then
    jq -r -c "$path" "$file" 2>/dev/null
    return
  fi
  python3 - "$file" "$path" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
path = sys.argv[2].strip()
length = False
if re.search(r"\|\s*length$", path):
    path, length = re.sub(r"\|\s*length$", "", path).strip(), True
vals = [doc]
for key, idx, each in re.findall(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|(\[\])", path):
    out = []
    for v in vals:
        if key:
            out.append(v.get(key) if isinstance(v, dict) else None)
        elif idx:
            out.append(v[int(idx)] if isinstance(v, list) and int(idx) < len(v) else None)
        elif isinstance(v, (list, dict)):
            out.extend(v if isinstance(v, list) else v.values())
    vals = out
for v in vals:
    if length:
        v = len(v) if isinstance(v, (list, dict, str)) else 0
    print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
PY
}

# sse_messages FILE: the data of each SSE event in FILE, one JSON message a line
# (priming events with empty data skipped). Multi-line data is joined.
sse_messages() {
  tr -d '\r' <"$1" | awk '
    /^data:/ { sub(/^data: ?/, ""); buf = (buf == "" ? $0 : buf "\n" $0); next }
    /^$/ { if (buf != "") print buf; buf = "" }
    END { if (buf != "") print buf }'
}

# message_with FILE KEY VALUE OUT: write to OUT the first JSON message in FILE
# (a JSON body or an SSE stream) whose KEY (`id` or `method`) equals VALUE.
message_with() {
  local file="$1" key="$2" want="$3" out="$4" line
  if [ "$(head -c 1 "$file")" = "{" ]; then
    cp "$file" "$out"
    [ "$(jget "$out" ".$key")" = "$want" ]
    return
  fi
  while IFS= read -r line; do
    printf '%s\n' "$line" >"$out"
    [ "$(jget "$out" ".$key")" = "$want" ] && return 0
  done < <(sse_messages "$file")
  return 1
}

# count_progress FILE TOKEN: how many notifications/progress for TOKEN are in FILE.
count_progress() {
  local file="$1" token="$2" line n=0 tmp="$RUN/progress.json"
  while IFS= read -r line; do
    printf '%s\n' "$line" >"$tmp"
    [ "$(jget "$tmp" .method)" = notifications/progress ] &&
      [ "$(jget "$tmp" .params.progressToken)" = "$token" ] && n=$((n + 1))
  done < <(sse_messages "$file")
  echo "$n"
}

header() { # header FILE NAME: value of a response header (case-insensitive)
  tr -d '\r' <"$1" | awk -v n="$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" '
    { split($0, kv, ":"); if (tolower(kv[1]) == n) { sub(/^[^:]*: */, ""); v = $0 } }
    END { print v }'
}

status_of() { # status_of HEADERS_FILE: the HTTP status of the last response in it
  tr -d '\r' <"$1" | awk '/^HTTP\// { s = $2 } END { print s }'
}

# ---------------------------------------------------------------- servers
# launch NAME READY_PATH CMD...: start CMD in the background, its output in
# $RUN/NAME.log; CMD writes the port it bound to $RUN/NAME.port.
declare -A PID_OF PATH_OF URL_OF
launch() {
  local name="$1" path="$2"
  shift 2
  rm -f "$RUN/$name.port"
  "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  PIDS+=("$!")
  NAMES+=("$name")
  PID_OF[$name]=$!
  PATH_OF[$name]=$path
}

# wait_ready NAME: until NAME has written its port and answers HTTP on its path
# (bounded by READY_TIMEOUT); sets URL_OF[NAME].
wait_ready() {
  local name="$1" pid="${PID_OF[$1]}" path="${PATH_OF[$1]}" port="" code
  local end=$((SECONDS + READY_TIMEOUT))
  while [ $SECONDS -lt $end ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$RUN/$name.log" >&2 || true
      die "$name exited before it was ready (log above)"
    fi
    [ -z "$port" ] && [ -s "$RUN/$name.port" ] && port="$(tr -dc 0-9 <"$RUN/$name.port")"
    if [ -n "$port" ]; then
      # Any HTTP status means it serves (an SSE stream answers 200 and is cut by -m).
      code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port$path" 2>/dev/null || true)"
      if [ -n "$code" ] && [ "$code" != 000 ]; then
        assert_loopback "$name" "$port"
        URL_OF[$name]="http://127.0.0.1:$port$path"
        log "$name on ${URL_OF[$name]} (pid $pid, log $RUN/$name.log)"
        return 0
      fi
    fi
    sleep 0.2
  done
  tail -n 30 "$RUN/$name.log" >&2 || true
  die "$name did not answer on port ${port:-?} within ${READY_TIMEOUT}s (log above)"
}

assert_loopback() { # assert_loopback NAME PORT: nothing on PORT listens beyond 127.0.0.1
  command -v ss >/dev/null 2>&1 || return 0
  local bad
  bad="$(ss -ltnH "sport = :$2" 2>/dev/null | awk '{print $4}' | grep -v '^127\.0\.0\.1:' || true)"
  [ -z "$bad" ] || die "$1 listens on $bad, not only 127.0.0.1"
}

launch_everything() { # launch_everything NAME sse|streamableHttp
  local path=/mcp
  [ "$2" = sse ] && path=/sse
  # PORT=0: the kernel picks the port; loopback.cjs binds 127.0.0.1 and writes it.
  launch "$1" "$path" env PORT=0 INTEROP_PORT_FILE="$RUN/$1.port" \
    "$NODE" --require "$HERE/servers/loopback.cjs" "$EVERYTHING" "$2"
}

launch_python() { # launch_python NAME TRANSPORT [FLAGS...]
  local name="$1" transport="$2" path=/mcp
  shift 2
  [ "$transport" = sse ] && path=/sse
  launch "$name" "$path" "$PY" "$HERE/servers/python_server.py" "$transport" \
    --port 0 --port-file "$RUN/$name.port" "$@"
}

start_all() {
  launch_everything everything-sse sse
  launch_everything everything-http streamableHttp
  launch_python py-sse sse
  launch_python py-http streamable-http
  launch_python py-json streamable-http --json-response
  launch_python py-stateless streamable-http --stateless
  launch_python py-modern streamable-http --modern-only
  local name
  for name in "${NAMES[@]}"; do wait_ready "$name"; done
  URL_EVERYTHING_SSE="${URL_OF[everything-sse]}"
  URL_EVERYTHING_HTTP="${URL_OF[everything-http]}"
  URL_PY_SSE="${URL_OF[py-sse]}"
  URL_PY_HTTP="${URL_OF[py-http]}"
  URL_PY_JSON="${URL_OF[py-json]}"
  URL_PY_STATELESS="${URL_OF[py-stateless]}"
  URL_PY_MODERN="${URL_OF[py-modern]}"
  export CONNECTORS_INTEROP_EVERYTHING_SSE="$URL_EVERYTHING_SSE"
  export CONNECTORS_INTEROP_EVERYTHING_HTTP="$URL_EVERYTHING_HTTP"
  export CONNECTORS_INTEROP_PY_SSE="$URL_PY_SSE"
  export CONNECTORS_INTEROP_PY_HTTP="$URL_PY_HTTP"
  export CONNECTORS_INTEROP_PY_JSON="$URL_PY_JSON"
  export CONNECTORS_INTEROP_PY_STATELESS="$URL_PY_STATELESS"
  export CONNECTORS_INTEROP_PY_MODERN="$URL_PY_MODERN"
}

print_urls() {
  local v
  for v in EVERYTHING_SSE EVERYTHING_HTTP PY_SSE PY_HTTP PY_JSON PY_STATELESS PY_MODERN; do
    v="CONNECTORS_INTEROP_$v"
    printf 'export %s=%s\n' "$v" "${!v}"
  done
}

# ---------------------------------------------------------------- curl checks (the servers themselves)
# These prove each server speaks its transport, independently of our client, so a
# client failure below is the client's. Shapes are those of README.md.
CLIENT_INFO='"clientInfo":{"name":"connectors-interop-curl","version":"0"}'

# Per server: the echo tool's argument name and expected text, and the tool names
# that tools/list must contain.
echo_args() { case "$1" in everything-*) echo '{"message":"hi"}' ;; *) echo '{"text":"hi"}' ;; esac; }
echo_text() { case "$1" in everything-*) echo 'Echo: hi' ;; *) echo 'echo: hi' ;; esac; }
expected_tools() {
  case "$1" in
    everything-*) echo "echo get-sum trigger-long-running-operation" ;;
    *) echo "echo add trigger-long-running-operation" ;;
  esac
}

# has_tools NAME FILE: FILE (a tools/list result message) lists the expected tools.
has_tools() {
  local names t missing=""
  names="$(jget "$2" '.result.tools[].name')"
  for t in $(expected_tools "$1"); do
    grep -qx -- "$t" <<<"$names" || missing="$missing $t"
  done
  [ -z "$missing" ] || { echo "missing tools:$missing (got: $(tr '\n' ' ' <<<"$names"))"; return 1; }
}

# check_result NAME CHECK MESSAGE_FILE EXPECTED_TEXT: result.content[0].text
check_text() {
  local got
  got="$(jget "$3" '.result.content[0].text')"
  if [ "$got" = "$4" ]; then ok "$1 $2"; else fail "$1 $2" "text '$got', want '$4' ($(head -c 300 "$3"))"; fi
}

# check_progress NAME BODY_FILE TOKEN STEPS ID
check_progress() {
  local n msg="$RUN/$1.progress-result.json"
  n="$(count_progress "$2" "$3")"
  if [ "$n" != "$4" ]; then
    fail "$1 curl progress" "$n notifications/progress for token $3, want $4"
  elif ! message_with "$2" id "$5" "$msg"; then
    fail "$1 curl progress" "no result for id $5"
  else
    check_text "$1" "curl progress" "$msg" "Long running operation completed. Duration: 1 seconds, Steps: $4."
  fi
}

# post URL NAME.STEP BODY [CURL_ARGS...]: POST BODY, headers to $RUN/NAME.STEP.h,
# body to $RUN/NAME.STEP.b; prints the HTTP status.
post() {
  local url="$1" out="$RUN/$2" body="$3"
  shift 3
  curl -sS -m "$CURL_TIMEOUT" -X POST "$url" -H 'Content-Type: application/json' "$@" \
    -D "$out.h" -o "$out.b" -d "$body" -w '%{http_code}' 2>"$out.err" || true
}

LONG_ARGS='{"duration":1,"steps":3}'

# smoke_http NAME URL SESSION(yes|no) BODY(sse|json): streamable HTTP, 2025-11-25.
smoke_http() {
  local name="$1" url="$2" want_session="$3" want_body="$4" pv=2025-11-25 code sid ctype m="$RUN/$1.msg"
  local A=(-H 'Accept: application/json, text/event-stream')
  code="$(post "$url" "$name.init" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'"$pv"'","capabilities":{},'"$CLIENT_INFO"'}}' "${A[@]}")"
  sid="$(header "$RUN/$name.init.h" mcp-session-id)"
  ctype="$(header "$RUN/$name.init.h" content-type)"
  if [ "$code" != 200 ]; then
    fail "$name curl initialize" "HTTP $code $(cat "$RUN/$name.init.err" "$RUN/$name.init.b" 2>/dev/null | head -c 300)"; return
  elif ! message_with "$RUN/$name.init.b" id 1 "$m" || [ "$(jget "$m" .result.protocolVersion)" != "$pv" ]; then
    fail "$name curl initialize" "no result with protocolVersion $pv: $(head -c 300 "$RUN/$name.init.b")"; return
  elif [ "$want_session" = yes ] && [ -z "$sid" ]; then
    fail "$name curl initialize" "no Mcp-Session-Id"; return
  elif [ "$want_session" = no ] && [ -n "$sid" ]; then
    fail "$name curl initialize" "Mcp-Session-Id $sid from a stateless server"; return
  elif [ "$want_body" = json ] && [[ "$ctype" != application/json* ]]; then
    fail "$name curl initialize" "content-type $ctype, want application/json"; return
  elif [ "$want_body" = sse ] && [[ "$ctype" != text/event-stream* ]]; then
    fail "$name curl initialize" "content-type $ctype, want text/event-stream"; return
  fi
  ok "$name curl initialize"
  A+=(-H "MCP-Protocol-Version: $pv")
  [ -n "$sid" ] && A+=(-H "Mcp-Session-Id: $sid")
  code="$(post "$url" "$name.initialized" '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${A[@]}")"
  [ "$code" = 202 ] || { fail "$name curl initialized" "HTTP $code, want 202"; return; }
  code="$(post "$url" "$name.list" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "${A[@]}")"
  local why
  if [ "$code" != 200 ] || ! message_with "$RUN/$name.list.b" id 2 "$m"; then
    fail "$name curl tools/list" "HTTP $code $(head -c 300 "$RUN/$name.list.b")"
  elif why="$(has_tools "$name" "$m")"; then ok "$name curl tools/list"; else fail "$name curl tools/list" "$why"; fi
  code="$(post "$url" "$name.call" '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":'"$(echo_args "$name")"'}}' "${A[@]}")"
  if [ "$code" != 200 ] || ! message_with "$RUN/$name.call.b" id 3 "$m"; then
    fail "$name curl tools/call" "HTTP $code $(head -c 300 "$RUN/$name.call.b")"
  else check_text "$name" "curl tools/call" "$m" "$(echo_text "$name")"; fi
  if [ "$want_body" = sse ]; then
    code="$(post "$url" "$name.long" '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":'"$LONG_ARGS"',"_meta":{"progressToken":"tok-4"}}}' "${A[@]}")"
    if [ "$code" != 200 ]; then fail "$name curl progress" "HTTP $code"; else check_progress "$name" "$RUN/$name.long.b" tok-4 3 4; fi
  fi
  if [ -n "$sid" ]; then
    code="$(curl -sS -m "$CURL_TIMEOUT" -o /dev/null -w '%{http_code}' -X DELETE "$url" "${A[@]}" 2>/dev/null || true)"
    case "$code" in 200|202|204|405) ok "$name curl DELETE session" ;; *) fail "$name curl DELETE session" "HTTP $code" ;; esac
  fi
}

# smoke_sse NAME URL: legacy HTTP+SSE (2024-11-05): GET the stream, POST to the
# endpoint it names, read the results from the stream.
smoke_sse() {
  local name="$1" url="$2" stream="$RUN/$1.stream" pv=2024-11-05 cpid ep post_url m="$RUN/$1.msg" code
  # Created before curl starts: the loop below may read it before the
  # background shell has opened it (a race that `set -e` turns into an exit).
  : >"$stream"
  curl -sS -N -m 60 -H 'Accept: text/event-stream' "$url" >>"$stream" 2>"$RUN/$name.stream.err" &
  cpid=$!
  ep=""
  for _ in $(seq 100); do
    ep="$(tr -d '\r' <"$stream" | awk '/^event: *endpoint/ { e = 1; next } e && /^data:/ { sub(/^data: ?/, ""); print; exit }')"
    [ -n "$ep" ] && break
    sleep 0.1
  done
  if [ -z "$ep" ]; then
    kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
    fail "$name curl endpoint event" "none within 10s: $(head -c 300 "$stream")"; return
  fi
  case "$ep" in
    http://*|https://*) post_url="$ep" ;;
    /*) post_url="$(sed -E 's#^(https?://[^/]+).*#\1#' <<<"$url")$ep" ;;
    *) post_url="${url%/*}/$ep" ;;
  esac
  ok "$name curl endpoint event ($ep)"
  sse_post() { # sse_post STEP BODY: POST to the endpoint; the answer must be 202
    code="$(post "$post_url" "$name.sse-${1//\//-}" "$2")"
    [ "$code" = 202 ] || { fail "$name curl $1" "POST answered HTTP $code, want 202"; return 1; }
  }
  wait_id() { # wait_id ID SECONDS: until the stream has the response for ID
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
      message_with "$stream" id "$1" "$m" && return 0
      sleep 0.2
    done
    return 1
  }
  if sse_post initialize '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'"$pv"'","capabilities":{},'"$CLIENT_INFO"'}}'; then
    if wait_id 1 10 && [ "$(jget "$m" .result.protocolVersion)" = "$pv" ]; then ok "$name curl initialize"; else fail "$name curl initialize" "no result with protocolVersion $pv on the stream"; fi
  fi
  sse_post initialized '{"jsonrpc":"2.0","method":"notifications/initialized"}' || true
  local why
  if sse_post tools/list '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'; then
    if ! wait_id 2 10; then fail "$name curl tools/list" "no result on the stream"
    elif why="$(has_tools "$name" "$m")"; then ok "$name curl tools/list"; else fail "$name curl tools/list" "$why"; fi
  fi
  if sse_post tools/call '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":'"$(echo_args "$name")"'}}'; then
    if wait_id 3 10; then check_text "$name" "curl tools/call" "$m" "$(echo_text "$name")"; else fail "$name curl tools/call" "no result on the stream"; fi
  fi
  if sse_post progress '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":'"$LONG_ARGS"',"_meta":{"progressToken":"tok-4"}}}'; then
    if wait_id 4 15; then check_progress "$name" "$stream" tok-4 3 4; else fail "$name curl progress" "no result on the stream"; fi
  fi
  kill "$cpid" 2>/dev/null || true
  wait "$cpid" 2>/dev/null || true
}

# smoke_modern NAME URL: the 2026-07-28 revision: server/discover, no session,
# MCP-Protocol-Version + Mcp-Method (+ Mcp-Name) headers, _meta on every request.
smoke_modern() {
  local name="$1" url="$2" pv=2026-07-28 code m="$RUN/$1.msg" why
  local meta='"_meta":{"io.modelcontextprotocol/protocolVersion":"'"$pv"'","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"connectors-interop-curl","version":"0"}}'
  local A=(-H 'Accept: application/json, text/event-stream' -H "MCP-Protocol-Version: $pv")
  code="$(post "$url" "$name.discover" '{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{'"$meta"'}}' "${A[@]}" -H 'Mcp-Method: server/discover')"
  if [ "$code" = 200 ] && message_with "$RUN/$name.discover.b" id 1 "$m" && jget "$m" '.result.supportedVersions[]' | grep -qx "$pv"; then
    ok "$name curl server/discover"
  else
    fail "$name curl server/discover" "HTTP $code $(head -c 300 "$RUN/$name.discover.b")"; return
  fi
  [ -z "$(header "$RUN/$name.discover.h" mcp-session-id)" ] || fail "$name curl no session" "Mcp-Session-Id on a 2026-07-28 response"
  code="$(post "$url" "$name.list" '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{'"$meta"'}}' "${A[@]}" -H 'Mcp-Method: tools/list')"
  if [ "$code" != 200 ] || ! message_with "$RUN/$name.list.b" id 2 "$m"; then
    fail "$name curl tools/list" "HTTP $code $(head -c 300 "$RUN/$name.list.b")"
  elif why="$(has_tools "$name" "$m")"; then ok "$name curl tools/list"; else fail "$name curl tools/list" "$why"; fi
  code="$(post "$url" "$name.call" '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},'"$meta"'}}' "${A[@]}" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: add')"
  if [ "$code" != 200 ] || ! message_with "$RUN/$name.call.b" id 3 "$m"; then
    fail "$name curl tools/call" "HTTP $code $(head -c 300 "$RUN/$name.call.b")"
  elif [ "$(jget "$m" .result.structuredContent.result)" != 5 ]; then
    fail "$name curl tools/call" "structuredContent.result is not 5: $(head -c 300 "$m")"
  else ok "$name curl tools/call"; fi
  code="$(post "$url" "$name.long" '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":'"$LONG_ARGS"',"_meta":{"progressToken":"tok-4","io.modelcontextprotocol/protocolVersion":"'"$pv"'","io.modelcontextprotocol/clientCapabilities":{}}}}' "${A[@]}" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: trigger-long-running-operation')"
  if [ "$code" != 200 ]; then fail "$name curl progress" "HTTP $code"; else check_progress "$name" "$RUN/$name.long.b" tok-4 3 4; fi
  # A 2026-07-28-only server refuses the initialize handshake, naming what it speaks.
  code="$(post "$url" "$name.legacy" '{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},'"$CLIENT_INFO"'}}' -H 'Accept: application/json, text/event-stream')"
  if [ "$code" = 400 ] && [ "$(jget "$RUN/$name.legacy.b" .error.code)" = -32022 ] &&
    jget "$RUN/$name.legacy.b" '.error.data.supported[]' | grep -qx "$pv"; then
    ok "$name curl initialize refused"
  else
    fail "$name curl initialize refused" "HTTP $code $(head -c 300 "$RUN/$name.legacy.b")"
  fi
}

# smoke_structured NAME URL: python add on the handshake era: tools/list gives
# it an outputSchema, tools/call answers structuredContent.
smoke_structured() {
  local name="$1" url="$2" pv=2025-11-25 code sid m="$RUN/$1.msg" i names
  local A=(-H 'Accept: application/json, text/event-stream')
  post "$url" "$name.sinit" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'"$pv"'","capabilities":{},'"$CLIENT_INFO"'}}' "${A[@]}" >/dev/null
  sid="$(header "$RUN/$name.sinit.h" mcp-session-id)"
  A+=(-H "MCP-Protocol-Version: $pv")
  [ -n "$sid" ] && A+=(-H "Mcp-Session-Id: $sid")
  post "$url" "$name.sinitialized" '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${A[@]}" >/dev/null
  code="$(post "$url" "$name.slist" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "${A[@]}")"
  if [ "$code" = 200 ] && message_with "$RUN/$name.slist.b" id 2 "$m"; then
    names="$(jget "$m" '.result.tools[].name')"
    i="$(grep -nx add <<<"$names" | cut -d: -f1)"
    if [ -n "$i" ] && [ "$(jget "$m" ".result.tools[$((i - 1))].outputSchema.properties.result.type")" = integer ]; then
      ok "$name curl outputSchema of add"
    else
      fail "$name curl outputSchema of add" "no outputSchema {result: integer}: $(head -c 300 "$m")"
    fi
  else
    fail "$name curl outputSchema of add" "tools/list: HTTP $code"
  fi
  code="$(post "$url" "$name.scall" '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}' "${A[@]}")"
  if [ "$code" = 200 ] && message_with "$RUN/$name.scall.b" id 3 "$m" && [ "$(jget "$m" .result.structuredContent.result)" = 5 ]; then
    ok "$name curl structuredContent of add"
  else
    fail "$name curl structuredContent of add" "HTTP $code $(head -c 300 "$RUN/$name.scall.b")"
  fi
  [ -z "$sid" ] || curl -sS -m "$CURL_TIMEOUT" -o /dev/null -X DELETE "$url" "${A[@]}" 2>/dev/null || true
}

curl_checks() {
  smoke_sse everything-sse "$URL_EVERYTHING_SSE"
  smoke_http everything-http "$URL_EVERYTHING_HTTP" yes sse
  smoke_sse py-sse "$URL_PY_SSE"
  smoke_http py-http "$URL_PY_HTTP" yes sse
  smoke_structured py-http "$URL_PY_HTTP"
  smoke_http py-json "$URL_PY_JSON" yes json
  smoke_http py-stateless "$URL_PY_STATELESS" no sse
  smoke_modern py-modern "$URL_PY_MODERN"
}

# ---------------------------------------------------------------- client checks (our client)
# The connectors CLI probe and the connector-mcp interop test against each server.
# Contract (issue 3):
#   connectors mcp tools URL --transport T --json      -> the tools/list result: {"tools":[...]}
#   connectors mcp call URL TOOL --args JSON --transport T --json -> the tools/call result
#   cargo test --workspace --test tests interop::  (connector-mcp tests/interop.rs; reads CONNECTORS_INTEROP_* URLs;
#     checks the progress notifications of trigger-long-running-operation)
build_client() {
  if [ -n "${CONNECTORS_BIN:-}" ]; then
    [ -x "$CONNECTORS_BIN" ] || die "CONNECTORS_BIN=$CONNECTORS_BIN is not executable"
    return
  fi
  log "building the connectors binary ..."
  local t=$SECONDS
  (cd "$ROOT" && cargo build --locked -q -p connector-server --bin connectors) >&2 || die "cargo build failed"
  log "built in $((SECONDS - t))s"
  CONNECTORS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/connectors"
  [ -x "$CONNECTORS_BIN" ] || die "no binary at $CONNECTORS_BIN"
}

# cli NAME.STEP ARGS...: run the CLI bounded in time; stdout to $RUN/NAME.STEP.out.
cli() {
  local out="$RUN/$1"
  shift
  timeout "$CLIENT_TIMEOUT" "$CONNECTORS_BIN" mcp "$@" >"$out.out" 2>"$out.err" </dev/null
}

cli_why() { # cli_why NAME.STEP STATUS: a short reason from a failed run
  local s="$2"
  [ "$s" = 124 ] && s="timed out after ${CLIENT_TIMEOUT}s"
  printf 'exit %s: %s' "$s" "$(tail -c 300 "$RUN/$1.err" | tr '\n' ' ')"
}

# The era `--transport auto` must find. Every streamable-HTTP server of the Python SDK
# also serves 2026-07-28 and Auto asks `server/discover` first: stateless there.
auto_era() {
  case "$1" in
    *-sse) echo legacy-sse ;;
    everything-http) echo streamable-http ;;
    py-*) echo stateless ;;
  esac
}

# client_pair NAME URL TRANSPORT
client_pair() {
  local name="$1" url="$2" transport="$3" st why t args text era
  if [ "$mode" != reference ]; then # the text output (era line) is ours only
    st=0; cli "$name.era" tools "$url" --transport auto || st=$?
    era="$(sed -n 's/^era: *//p' "$RUN/$name.era.out" | head -n 1)"
    if [ "$st" != 0 ]; then fail "$name client era --transport auto" "$(cli_why "$name.era" "$st")"
    elif [ "$era" = "$(auto_era "$name")" ]; then ok "$name client era --transport auto ($era)"
    else fail "$name client era --transport auto" "era '$era', want '$(auto_era "$name")'"; fi
  fi
  for t in "$transport" auto; do
    st=0; cli "$name.tools-$t" tools "$url" --transport "$t" --json || st=$?
    if [ "$st" != 0 ]; then fail "$name client tools --transport $t" "$(cli_why "$name.tools-$t" "$st")"; continue; fi
    # has_tools reads .result.tools: wrap the printed result.
    printf '{"result":%s}\n' "$(cat "$RUN/$name.tools-$t.out")" >"$RUN/$name.tools-$t.json"
    if why="$(has_tools "$name" "$RUN/$name.tools-$t.json")"; then ok "$name client tools --transport $t"; else fail "$name client tools --transport $t" "$why"; fi
  done
  args="$(echo_args "$name")"; text="$(echo_text "$name")"
  st=0; cli "$name.call" call "$url" echo --args "$args" --transport "$transport" --json || st=$?
  if [ "$st" != 0 ]; then
    fail "$name client call echo" "$(cli_why "$name.call" "$st")"
  else
    printf '{"result":%s}\n' "$(cat "$RUN/$name.call.out")" >"$RUN/$name.call.json"
    check_text "$name" "client call echo" "$RUN/$name.call.json" "$text"
  fi
  case "$name" in
    everything-*) args='{"a":2,"b":3}'; st=0; cli "$name.sum" call "$url" get-sum --args "$args" --transport "$transport" --json || st=$?
      if [ "$st" != 0 ]; then fail "$name client call get-sum" "$(cli_why "$name.sum" "$st")"
      else
        printf '{"result":%s}\n' "$(cat "$RUN/$name.sum.out")" >"$RUN/$name.sum.json"
        check_text "$name" "client call get-sum" "$RUN/$name.sum.json" "The sum of 2 and 3 is 5."
      fi ;;
    py-*) st=0; cli "$name.add" call "$url" add --args '{"a":2,"b":3}' --transport "$transport" --json || st=$?
      if [ "$st" != 0 ]; then fail "$name client call add" "$(cli_why "$name.add" "$st")"
      elif [ "$(jget "$RUN/$name.add.out" .structuredContent.result)" = 5 ]; then ok "$name client call add (structuredContent)"
      else fail "$name client call add" "structuredContent.result is not 5: $(head -c 300 "$RUN/$name.add.out")"; fi ;;
  esac
}

client_checks() {
  if [ "$mode" = reference ]; then
    CONNECTORS_BIN="$RUN/reference-client"
    cat >"$CONNECTORS_BIN" <<EOF
#!/bin/sh
exec "$PY" "$HERE/reference_client.py" "\$@"
EOF
    chmod +x "$CONNECTORS_BIN"
  else
    build_client
  fi
  client_pair everything-sse "$URL_EVERYTHING_SSE" sse
  client_pair everything-http "$URL_EVERYTHING_HTTP" streamable-http
  client_pair py-sse "$URL_PY_SSE" sse
  client_pair py-http "$URL_PY_HTTP" streamable-http
  client_pair py-json "$URL_PY_JSON" streamable-http
  client_pair py-stateless "$URL_PY_STATELESS" streamable-http
  client_pair py-modern "$URL_PY_MODERN" stateless
  [ "$mode" = reference ] && return

  # Fixed to the handshake era, a 2026-07-28-only server is refused with a reason.
  local st=0
  cli py-modern.refused tools "$URL_PY_MODERN" --transport streamable-http || st=$?
  if [ "$st" = 0 ] || [ "$st" = 124 ]; then
    fail "py-modern client --transport streamable-http refused" "$(cli_why py-modern.refused "$st")"
  elif grep -q 2026-07-28 "$RUN/py-modern.refused.err" && grep -q stateless "$RUN/py-modern.refused.err"; then
    ok "py-modern client --transport streamable-http refused (names 2026-07-28)"
  else
    fail "py-modern client --transport streamable-http refused" "reason does not name 2026-07-28 and stateless: $(tail -c 300 "$RUN/py-modern.refused.err")"
  fi

  # Progress (and whatever else the Rust side checks) through the library API.
  local out="$RUN/cargo-test.out" n
  st=0
  local t=$SECONDS
  # --workspace: the features `cargo test --workspace` (scripts/test.sh) resolves, so
  # its build is reused (with -p alone, features can differ and relink the crates).
  # The other crates' `tests` binaries run no test under the `interop::` filter.
  (cd "$ROOT" && cargo test --locked -q --workspace --test tests --no-run) >"$out" 2>&1 || st=$?
  log "interop test built in $((SECONDS - t))s"
  if [ "$st" = 0 ]; then
    (cd "$ROOT" && timeout "$CARGO_TEST_TIMEOUT" cargo test --locked --workspace --test tests interop:: -- --nocapture) >"$out" 2>&1 || st=$?
  fi
  n="$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i) ~ /^passed;?$/) p += $(i-1) } END { print p + 0 }' "$out")"
  if [ "$st" != 0 ]; then
    fail "cargo test --workspace --test tests interop::" "exit $st: $(grep -E '^(test .* FAILED|error|---- )' "$out" | head -n 5 | tr '\n' ' ')(output in $out)"
  elif [ "$n" = 0 ]; then
    fail "cargo test --workspace --test tests interop::" "ran no test"
  elif grep -q SKIPPED "$out"; then
    fail "cargo test --workspace --test tests interop::" "tests skipped: $(grep SKIPPED "$out" | head -n 3 | tr '\n' ' ')"
  else
    ok "cargo test --workspace --test tests interop:: ($n tests)"
  fi
}

# ---------------------------------------------------------------- main
mkdir -p "$CACHE"
t0=$SECONDS
ensure_node
ensure_everything
ensure_python
log "installs ready in $((SECONDS - t0))s (cache $CACHE); node $("$NODE" --version), mcp $V_MCP, server-everything $V_EVERYTHING"

t1=$SECONDS
start_all
log "servers ready in $((SECONDS - t1))s"
case "$mode" in
  servers|serve) print_urls ;;
esac
t2=$SECONDS
curl_checks
log "curl checks took $((SECONDS - t2))s"
t2=$SECONDS
case "$mode" in all|reference) client_checks; log "client checks took $((SECONDS - t2))s" ;; esac

if [ "$mode" = serve ]; then
  log "serving; interrupt (Ctrl-C) to stop"
  while :; do
    sleep 3600 &
    SLEEP_PID=$!
    wait "$SLEEP_PID" || true
  done
fi
log "checks took $((SECONDS - t1))s"
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
