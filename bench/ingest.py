"""Ingest benchmark: POST /webhooks/shopify against a bare endpoint, under each candidate web server.

Both endpoints run in the same application, on the same server with the same settings, measured by
wrk (32 connections) one right after the other. The webhook endpoint does the real work: HMAC on the
raw body, JSON check, the INSERT … ON CONFLICT of its group (concurrent requests share one statement and
one commit) into PostgreSQL or the SQLite default, and the drain flag in Redis. Every request carries a new
X-Shopify-Webhook-Id, so every one is stored.

    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 32] [--database postgresql,sqlite]
                                     [--only "granian wsgi (2 workers x 4"]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, SHOP_DOMAIN, SHOP_SECRET, Stack, free_port, wait_for_port  # noqa: E402

BIN = Path(sys.executable).parent
SERVERS = {
    "gunicorn sync (2 workers)": lambda port: [
        str(BIN / "gunicorn"), "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
        "bench.bench_wsgi:app"],
    "gunicorn gthread (2 workers x 8 threads)": lambda port: [
        str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}",
        "--log-level", "warning", "bench.bench_wsgi:app"],
    "granian wsgi (2 workers x 4 threads)": lambda port: [
        str(BIN / "granian"), "--interface", "wsgi", "--workers", "2", "--blocking-threads", "4", "--no-ws",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "bench.bench_wsgi:app"],
    "granian wsgi (2 workers x 8 threads)": lambda port: [
        str(BIN / "granian"), "--interface", "wsgi", "--workers", "2", "--blocking-threads", "8", "--no-ws",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "bench.bench_wsgi:app"],
    "granian wsgi (2 workers x 16 threads)": lambda port: [
        str(BIN / "granian"), "--interface", "wsgi", "--workers", "2", "--blocking-threads", "16", "--no-ws",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "bench.bench_wsgi:app"],
    "granian wsgi (2 workers x 1 thread)": lambda port: [
        str(BIN / "granian"), "--interface", "wsgi", "--workers", "2", "--blocking-threads", "1", "--no-ws",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "bench.bench_wsgi:app"],
}

LUA = """
local body = [[%(body)s]]
local counter = 0
local tid = 0
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
init = function(args) tid = wrk.thread:get("tid") or 0 end
request = function()
  counter = counter + 1
  local h = {}
  h["Content-Type"] = "application/json"
  h["X-Shopify-Topic"] = "orders/updated"
  h["X-Shopify-Hmac-Sha256"] = "%(sig)s"
  h["X-Shopify-Shop-Domain"] = "%(shop)s"
  h["X-Shopify-Webhook-Id"] = "%(run)s-" .. tid .. "-" .. counter
  return wrk.format("POST", "%(path)s", h, body)
end
"""


def lua_script(path: str, body: bytes, run: str) -> Path:
    sig = base64.b64encode(hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    p = Path(f"/tmp/redress-bench-{run}.lua")
    p.write_text(LUA % {"body": body.decode(), "sig": sig, "shop": SHOP_DOMAIN, "run": run, "path": path})
    return p


def _ms(value: str) -> float:
    num, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(num) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(port: int, path: str, body: bytes, seconds: int, connections: int) -> dict:
    script = lua_script(path, body, uuid.uuid4().hex[:8])
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s",
                          str(script), f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1).strip() if socket_errors else ""}


def run_server(name: str, stack: Stack, body: bytes, args) -> tuple[dict, dict]:
    port = free_port()
    proc = subprocess.Popen(SERVERS[name](port), env=stack.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
        wrk(port, "/bare", b"{}", 2, args.connections)  # warm up both paths and pools
        wrk(port, "/webhooks/shopify", body, 2, args.connections)
        bare = wrk(port, "/bare", body, args.seconds, args.connections)
        hook = wrk(port, "/webhooks/shopify", body, args.seconds, args.connections)
    finally:
        proc.terminate()
        proc.wait(10)
    time.sleep(1)
    return bare, hook


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--database", default="postgresql,sqlite", help="postgresql, sqlite or both, comma-separated")
    ap.add_argument("--only", default=None, help="substring of the server names to run")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    body = (ROOT / "tests/fixtures/shopify/orders_create.json").read_bytes()
    body = json.dumps(json.loads(body), separators=(",", ":")).encode()  # one line for the Lua literal
    rows = []
    for database in args.database.split(","):
        stack = Stack(database=database)
        try:
            for name in SERVERS:
                if not args.only or args.only in name:
                    rows.append((database, name, *run_server(name, stack, body, args)))
        finally:
            stack.close()

    print(f"\nwebhook body {len(body)} bytes, {args.connections} connections, {args.seconds} s per run, "
          "wrk on the same machine, database and Redis on loopback\n")
    print("| database | server | bare req/s | bare p50 / p99 ms | webhook req/s | webhook p50 / p99 ms "
          "| webhook / bare | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for database, name, bare, hook in rows:
        ratio = hook["rps"] / bare["rps"] if bare["rps"] else 0
        errs = f"{hook['non2xx']} non-2xx" + (f"; {hook['socket_errors']}" if hook["socket_errors"] else "")
        print(f"| {database} | {name} | {bare['rps']:.0f} | {bare['p50']:.1f} / {bare['p99']:.1f} | "
              f"{hook['rps']:.0f} | {hook['p50']:.1f} / {hook['p99']:.1f} | {ratio:.0%} | {errs} |")


if __name__ == "__main__":
    main()
