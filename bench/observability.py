"""What observability costs: bench/e2e.py twice in one run, without and with JSON logs, tracing
exported and /metrics scraped, and the CPU per registration of each service side by side.

    .venv/bin/python bench/observability.py [--broker kafka] [--postgres] [-- <more bench/e2e.py args>]

The first run is the baseline: plain-text logs, tracing not exported (OTEL_EXPORTER_OTLP_ENDPOINT
unset), nobody scraping /metrics. The second sets XINFANG_LOG_FORMAT=json, exports every span over
OTLP/HTTP to a sink in this process that answers 200 and counts what it gets, and scrapes every
service's /metrics once a second. The counters themselves are always on (they cannot be turned
off), so their per-request cost is in both runs; what the second adds is everything else.
Target (the operations issue): at most 5 % more CPU per registration. Nothing asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVICES = ("intake", "routing", "supervision", "reporting")


class _Sink(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self):  # noqa: N802  (the http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _scraper(stop: threading.Event, logfile: Path) -> threading.Thread:
    """Scrape each service's /metrics once a second, finding their ports in the bench's output."""
    import httpx

    def run():
        ports: dict[str, int] = {}
        while not stop.wait(1.0):
            if not ports and logfile.exists():
                found = re.search(r"\(ports (\{.*?\})\)", logfile.read_text(errors="replace"))
                if found:
                    ports = json.loads(found.group(1).replace("'", '"'))
            for port in ports.values():
                try:
                    httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                except httpx.HTTPError:
                    pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _run(label: str, env: dict, args: list[str], scrape: bool) -> dict:
    log = Path(f"/tmp/xinfang-observability-{label}.log")
    stop = threading.Event()
    if scrape:
        _scraper(stop, log)
    print(f"[{label}] bench/e2e.py {' '.join(args)} ...", flush=True)
    with open(log, "w") as out:
        done = subprocess.run([sys.executable, str(HERE / "e2e.py"), *args], env=env, stdout=out,
                              stderr=subprocess.STDOUT)
    stop.set()
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"[{label}] bench/e2e.py failed ({done.returncode}); see {log}\n{text[-2000:]}")
    results = re.findall(r"(/\S*bench/results/e2e-\S+\.json)", text)
    path = Path(results[-1]) if results else max((HERE / "results").glob("e2e-*.json"), key=os.path.getmtime)
    return json.loads(path.read_text())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", default="tansu")
    p.add_argument("--postgres", action="store_true")
    p.add_argument("rest", nargs="*", help="more bench/e2e.py arguments (after --)")
    a = p.parse_args()
    args = ["--broker", a.broker, *(["--postgres"] if a.postgres else []), *a.rest]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "XINFANG_LOG_FORMAT"))}

    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    on_env = {**base_env, "XINFANG_LOG_FORMAT": "json",
              "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}"}

    off = _run("off", base_env, args, scrape=False)
    on = _run("on", on_env, args, scrape=True)
    sink.shutdown()

    a_off, a_on = off["cpu_ms_per_registration_throughput"], on["cpu_ms_per_registration_throughput"]
    print(f"\nCPU ms per registration in the throughput phase ({a.broker}, "
          f"{'postgresql' if a.postgres else 'sqlite'}); OTLP posts received in the second run: {_Sink.received}")
    print(f"  {'':<12}{'off':>8}{'on':>8}{'change':>9}")
    total_off = total_on = 0.0
    for name in (*SERVICES, "broker"):
        x, y = a_off.get(name), a_on.get(name)
        if x is None or y is None:
            continue
        total_off += x
        total_on += y
        print(f"  {name:<12}{x:>8.2f}{y:>8.2f}{(y - x) / x * 100 if x else 0:>8.1f}%")
    change = (total_on - total_off) / total_off * 100 if total_off else 0
    print(f"  {'services':<12}{total_off:>8.2f}{total_on:>8.2f}{change:>8.1f}%   target: at most +5 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
