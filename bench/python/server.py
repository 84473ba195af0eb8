"""The deployment-shape benchmark's Python servers: PostHog's Python SDK (`posthog.mcp`) beside a bare server.

Started by `http_shape --python PYTHON`, never by the test command. The same calculator as the Rust servers
(`add(a, b)` and `blob(size)`), served by the MCP SDK's `MCPServer` over stateless Streamable HTTP with JSON
responses on 127.0.0.1, by uvicorn with one worker. The same control channel as the Rust servers: the server prints
`listening ADDRESS`; each `cpu` line on stdin is answered, after flushing analytics, with `cpu MICROSECONDS true`
(the process's user + system time); end of stdin ends it.

    python server.py --variant bare|posthog [--sink URL] [--cpu N]
"""

import argparse
import logging
import os
import resource
import socket
import sys
import threading

import uvicorn
from mcp.server.mcpserver import MCPServer


def build(variant, sink):
    server = MCPServer("bench-calc")

    @server.tool(description="Adds two numbers")
    def add(a: int, b: int) -> str:
        return str(a + b)

    @server.tool(description="A reply of `size` bytes")
    def blob(size: int) -> str:
        return "x" * size

    client = None
    if variant == "posthog":
        from posthog import Posthog
        from posthog.mcp import instrument

        client = Posthog("phc_bench", host=sink)
        instrument(server, client)
    elif variant != "bare":
        sys.exit(f"unknown variant {variant!r}; one of bare, posthog")
    app = server.streamable_http_app(json_response=True, stateless_http=True)
    return app, client


def control(client):
    for line in sys.stdin:
        if line.strip() == "cpu":
            if client is not None:
                client.flush()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            micros = int((usage.ru_utime + usage.ru_stime) * 1_000_000)
            print(f"cpu {micros} true", flush=True)
    os._exit(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", required=True)
    parser.add_argument("--sink")
    parser.add_argument("--cpu", type=int)
    args = parser.parse_args()
    # The SDK logs each stateless request at INFO; a server in production would not write that line per call.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("mcp").setLevel(logging.WARNING)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    app, client = build(args.variant, args.sink)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    host, port = listener.getsockname()
    threading.Thread(target=control, args=(client,), daemon=True).start()
    print(f"listening {host}:{port}", flush=True)
    # The driver keeps one connection per server for the whole run, idle while it measures the others.
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=3600)
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
