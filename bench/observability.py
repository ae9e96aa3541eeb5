"""What observability costs: bench/e2e.py run with and without JSON logs, exported tracing and
/metrics scraping, in the same invocation, and the service CPU per registration side by side.

    .venv/bin/python bench/observability.py [--broker kafka] [--postgres] [--rounds 3]
        [--configs off,json,trace,scrape,all] [--scrape-interval S] [-- <more bench/e2e.py args>]

"off" is the baseline: plain-text logs, tracing not exported (OTEL_EXPORTER_OTLP_ENDPOINT unset),
nobody scraping /metrics. "json" sets XINFANG_LOG_FORMAT=json; "trace" exports every span over
OTLP/HTTP to a sink in this process (it answers 200 and counts the posts); "scrape" scrapes every
service's /metrics at the interval deploy/prometheus uses (15 s); "all" does the three. The
counters and the trace context are always on (they cannot be turned off), so their cost is in
the baseline too. Each configuration runs ``--rounds`` times, interleaved and in alternating
order, and the median is compared. The throughput phase at a rate the stack sustains (e.g.
``-- --burst-rate 60``) is the fair figure: the latency phase is mostly the bench's own polling.
Target (the operations issue): at most 5 % more CPU per registration. Nothing asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVICES = ("intake", "routing", "supervision", "reporting")


class _Sink(BaseHTTPRequestHandler):
    received = 0
    scrapes = 0

    def do_POST(self):  # noqa: N802  (the http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def scrape_interval_of_deploy() -> float:
    """The scrape interval the shipped Prometheus configuration uses (deploy/prometheus)."""
    conf = (HERE.parent / "deploy" / "prometheus" / "prometheus.yml").read_text()
    found = re.search(r"scrape_interval:\s*(\d+)s", conf)
    return float(found.group(1)) if found else 15.0


def _scraper(stop: threading.Event, logfile: Path, interval: float) -> threading.Thread:
    """Scrape each service's /metrics every ``interval`` seconds, finding their ports in the bench's output."""
    import httpx

    def run():
        ports: dict[str, int] = {}
        while not stop.wait(0.5 if not ports else interval):
            if not ports and logfile.exists():
                found = re.search(r"\(ports (\{.*?\})\)", logfile.read_text(errors="replace"))
                if found:
                    ports = json.loads(found.group(1).replace("'", '"'))
            for port in ports.values():
                try:
                    httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
                    _Sink.scrapes += 1
                except httpx.HTTPError:
                    pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _run(label: str, env: dict, args: list[str], scrape: float | None) -> dict:
    log = Path(f"/tmp/xinfang-observability-{label}.log")
    stop = threading.Event()
    if scrape:
        _scraper(stop, log, scrape)
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


# what each configuration turns on beside the baseline (nothing exported, plain logs, nobody scraping)
CONFIGS = {
    "off": (),
    "json": ("json",),
    "trace": ("trace",),
    "scrape": ("scrape",),
    "all": ("json", "trace", "scrape"),
}


def _services_total(per: dict) -> float:
    return sum(per.get(name, 0.0) for name in SERVICES)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", default="tansu")
    p.add_argument("--postgres", action="store_true")
    p.add_argument("--rounds", type=int, default=2, help="runs of each configuration, interleaved (2)")
    p.add_argument("--configs", default="off,all", help=f"which of {','.join(CONFIGS)} (off,all)")
    p.add_argument("--scrape-interval", type=float, default=scrape_interval_of_deploy(),
                   help="seconds between scrapes of every service (default: deploy/prometheus's)")
    p.add_argument("rest", nargs="*", help="more bench/e2e.py arguments (after --)")
    a = p.parse_args()
    configs = [c for c in a.configs.split(",") if c]
    if "off" not in configs:
        configs.insert(0, "off")
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s): {', '.join(unknown)}")
    args = ["--broker", a.broker, *(["--postgres"] if a.postgres else []), *a.rest]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "XINFANG_LOG_FORMAT"))}

    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{sink.server_address[1]}"

    runs: dict[str, list[dict]] = {c: [] for c in configs}
    for r in range(a.rounds):
        # interleaved, and the order reversed every other round, so a slow drift of the machine
        # falls on every configuration alike
        for c in (configs if r % 2 == 0 else list(reversed(configs))):
            env = dict(base_env)
            if "json" in CONFIGS[c]:
                env["XINFANG_LOG_FORMAT"] = "json"
            if "trace" in CONFIGS[c]:
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
            runs[c].append(_run(f"{c}-{r + 1}", env, args,
                                a.scrape_interval if "scrape" in CONFIGS[c] else None))
    sink.shutdown()

    print(f"\nservice CPU ms per registration ({a.broker}, {'postgresql' if a.postgres else 'sqlite'}; "
          f"{a.rounds} round(s), median; scrape every {a.scrape_interval:g} s; "
          f"OTLP posts {_Sink.received}, scrapes {_Sink.scrapes})")
    for phase in ("latency", "throughput"):
        key = f"cpu_ms_per_registration_{phase}"
        base = statistics.median(_services_total(x[key]) for x in runs["off"])
        print(f"  {phase} phase")
        print(f"    {'':<8}" + "".join(f"{n:>13}" for n in (*SERVICES, "services", "change")))
        for c in configs:
            per = {n: statistics.median(x[key].get(n, 0.0) for x in runs[c]) for n in SERVICES}
            total = statistics.median(_services_total(x[key]) for x in runs[c])
            change = (total - base) / base * 100 if base else 0.0
            print(f"    {c:<8}" + "".join(f"{per[n]:>13.2f}" for n in SERVICES)
                  + f"{total:>13.2f}{change:>12.1f}%")
    print("  target: at most +5 % for 'all'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
