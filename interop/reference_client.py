#!/usr/bin/env python3
"""Stand-in for the `connectors mcp` probe, on the official Python SDK's client.

Implements just the contract interop/run.sh checks, so that the checks themselves
can be proven against a client nobody here wrote (`interop/run.sh --reference-client`):

  reference_client.py mcp tools URL [--transport auto|sse|streamable-http|stateless] --json
  reference_client.py mcp call URL TOOL [--args JSON] [--transport ...] --json

`--json` prints the tools/list or tools/call result as JSON (MCP field names).
`auto` here is only: URL ending in /sse -> sse, else the SDK's own auto mode
(server/discover, falling back to initialize).
"""
import argparse
import json
import sys

import anyio
from mcp.client.client import Client
from mcp.client.sse import sse_client

p = argparse.ArgumentParser()
p.add_argument("group", choices=["mcp"])
p.add_argument("command", choices=["tools", "call"])
p.add_argument("url")
p.add_argument("tool", nargs="?")
p.add_argument("--args", default="{}")
p.add_argument("--transport", default="auto", choices=["auto", "sse", "streamable-http", "stateless"])
p.add_argument("--json", action="store_true")
a = p.parse_args()
if a.command == "call" and not a.tool:
    p.error("call needs TOOL")


def dump(result):
    return json.dumps(result.model_dump(by_alias=True, exclude_none=True, mode="json"))


async def main():
    transport = a.transport
    if transport == "auto" and a.url.rstrip("/").endswith("/sse"):
        transport = "sse"
    if transport == "sse":
        client = Client(sse_client(a.url), mode="legacy")
    elif transport == "streamable-http":
        client = Client(a.url, mode="legacy")
    elif transport == "stateless":
        client = Client(a.url, mode="2026-07-28")
    else:
        client = Client(a.url)
    async with client:
        if a.command == "tools":
            print(dump(await client.list_tools()))
        else:
            print(dump(await client.call_tool(a.tool, json.loads(a.args))))


try:
    anyio.run(main)
except Exception as e:  # one line on stderr, non-zero exit, like a CLI
    print(f"reference_client: {type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
