#!/usr/bin/env python3
"""MCP interop peer on the official Python SDK (PyPI `mcp`, 2.3.0 pinned by run.sh).

Tools:
  echo(text: str) -> str                        "echo: <text>"
  add(a: int, b: int) -> int                    structured output: outputSchema
                                                {"result": integer}, structuredContent {"result": a+b}
  trigger-long-running-operation(duration, steps)
                                                sleeps `duration` seconds in `steps` steps and sends
                                                notifications/progress (progress=i, total=steps) when the
                                                request carries a progressToken; same name, arguments and
                                                final text as server-everything's tool

Modes (always 127.0.0.1; --port 0 picks a free port, written to --port-file once bound):
  sse                                  GET /sse, POST /messages/?session_id=...   (2024-11-05)
  streamable-http                      POST/GET/DELETE /mcp, sessions, SSE response bodies
  streamable-http --json-response      POST answered with application/json
  streamable-http --stateless          no Mcp-Session-Id
  streamable-http --modern-only        only the 2026-07-28 revision: server/discover, no session.
                                       Any streamable-http server of the SDK also answers 2026-07-28
                                       (routed on the MCP-Protocol-Version header); --modern-only
                                       additionally refuses the handshake era (initialize etc.)
                                       with 400 / UnsupportedProtocolVersion (-32022, data.supported
                                       = ["2026-07-28"]) and GET/DELETE with 405.
"""
import argparse
import json
import os
import socket
import sys

import anyio
import uvicorn

try:
    from mcp.server.mcpserver import Context, MCPServer
except ImportError:  # pragma: no cover - mcp 1.x
    sys.exit("python_server.py needs mcp>=2 (mcp.server.mcpserver); run interop/run.sh to install it")

HOST = "127.0.0.1"
MODERN = "2026-07-28"
UNSUPPORTED_PROTOCOL_VERSION = -32022

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("transport", choices=["sse", "streamable-http"])
p.add_argument("--port", type=int, default=0)
p.add_argument("--port-file", help="write the bound port here (atomically) once listening")
p.add_argument("--json-response", action="store_true")
p.add_argument("--stateless", action="store_true")
p.add_argument("--modern-only", action="store_true")
args = p.parse_args()
if args.transport == "sse" and (args.json_response or args.stateless or args.modern_only):
    p.error("--json-response, --stateless and --modern-only are streamable-http options")

mcp = MCPServer("connectors-interop-python", version="1", log_level="WARNING")


@mcp.tool(structured_output=False)
def echo(text: str) -> str:
    """Echo the given text back, prefixed with 'echo: '."""
    return f"echo: {text}"


@mcp.tool(structured_output=True)
def add(a: int, b: int) -> int:
    """Add two integers (structured output: {"result": a + b})."""
    return a + b


@mcp.tool(name="trigger-long-running-operation", structured_output=False)
async def long_running(ctx: Context, duration: float = 10, steps: int = 5) -> str:
    """A long running operation that reports progress at each step."""
    steps = max(int(steps), 1)
    for i in range(1, steps + 1):
        await anyio.sleep(duration / steps)
        await ctx.report_progress(i, steps)
    return f"Long running operation completed. Duration: {duration:g} seconds, Steps: {steps}."


def modern_only(app):
    """ASGI wrapper: let only 2026-07-28 requests through to the SDK's app."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        pv = headers.get("mcp-protocol-version")
        if scope["method"] in ("GET", "DELETE"):
            return await _respond(send, 405, b"", [(b"allow", b"POST")])
        if scope["method"] != "POST" or pv == MODERN:
            return await app(scope, receive, send)
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        req = req if isinstance(req, dict) else {}
        params = req.get("params") if isinstance(req.get("params"), dict) else {}
        requested = pv or params.get("protocolVersion") or ""
        err = {
            "jsonrpc": "2.0",
            "id": req.get("id"),
            "error": {
                "code": UNSUPPORTED_PROTOCOL_VERSION,
                "message": "Unsupported protocol version",
                "data": {"supported": [MODERN], "requested": requested},
            },
        }
        if "id" not in req:  # a notification: nothing to answer
            return await _respond(send, 202, b"")
        return await _respond(send, 400, json.dumps(err).encode(), [(b"content-type", b"application/json")])

    return wrapped


async def _respond(send, status, body, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def main():
    if args.transport == "sse":
        app = mcp.sse_app(host=HOST)
    else:
        app = mcp.streamable_http_app(host=HOST, json_response=args.json_response,
                                      stateless_http=args.stateless)
        if args.modern_only:
            app = modern_only(app)
    # Bind first (port 0 = the kernel picks a free one), then tell the caller the port:
    # no window between choosing a port and listening on it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, args.port))
    sock.listen(128)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    if args.port_file:
        tmp = f"{args.port_file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    print(f"python_server: {args.transport} listening on {HOST}:{port}", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on" if args.transport != "sse" else "auto")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
