#!/usr/bin/env python3
"""The official Python SDK client (PyPI `mcp`) timing tools/call `add`
against an MCP streamable HTTP server, over one session.

  py_client_bench.py URL [-n 1000] [-c 1] [--rounds 3]
      standalone: prints calls/s, p50 and p99 per round.
  py_client_bench.py URL --stdin
      driven by the Rust bench (benches/python.rs): prints `ready ...`, then
      for each `run CALLERS N` line on stdin answers one JSON line
      {"secs": wall seconds, "lat_ns": [per-call latencies]}; `quit` ends.
"""
import argparse
import json
import sys
import time
from importlib.metadata import version

import anyio
from mcp import ClientSession

try:  # mcp >= 2
    from mcp.client.streamable_http import streamable_http_client as _http_client
except ImportError:  # mcp 1.x
    from mcp.client.streamable_http import streamablehttp_client as _http_client

ARGS = {"a": 1, "b": 2}


async def run(s: ClientSession, callers: int, n: int) -> tuple[float, list[int]]:
    lat: list[int] = []
    left = n

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            t = time.perf_counter_ns()
            r = await s.call_tool("add", ARGS)
            lat.append(time.perf_counter_ns() - t)
            if r.isError if hasattr(r, "isError") else r.is_error:
                raise RuntimeError("isError")

    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(callers):
            tg.start_soon(caller)
    return time.perf_counter() - t0, lat


def pct(v: list[int], p: float) -> float:
    s = sorted(v)
    return s[round((len(s) - 1) * p)] / 1000.0


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("-c", type=int, default=1, help="concurrent callers")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--stdin", action="store_true")
    a = p.parse_args()
    async with _http_client(a.url) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as s:
            init = await s.initialize()
            pv = getattr(init, "protocol_version", None) or getattr(init, "protocolVersion", "?")
            r = await s.call_tool("add", ARGS)
            text = getattr(r.content[0], "text", None)
            if text != "3":
                raise RuntimeError(f"unexpected add result {r.content!r}")
            if a.stdin:
                print(f"ready mcp {version('mcp')}, python {sys.version.split()[0]}, protocol {pv}", flush=True)
                while True:
                    line = await anyio.to_thread.run_sync(sys.stdin.readline)
                    parts = line.split()
                    if not parts or parts[0] == "quit":
                        return
                    callers, n = int(parts[1]), int(parts[2])
                    secs, lat = await run(s, callers, n)
                    print(json.dumps({"secs": secs, "lat_ns": lat}), flush=True)
            print(f"mcp {version('mcp')}, protocol {pv}, {a.c} caller(s)")
            for i in range(a.rounds):
                secs, lat = await run(s, a.c, a.n)
                print(f"round {i + 1}: {len(lat)} calls in {secs:.2f}s = {len(lat) / secs:.0f} calls/s, "
                      f"p50 {pct(lat, 0.5):.0f} µs, p99 {pct(lat, 0.99):.0f} µs")


anyio.run(main)
