"""Runs the whole system as processes: a broker (the embedded tansu, or Apache Kafka with its log
under the data folder; none when KAFKA_BOOTSTRAP_SERVERS names one) and the services, their
output prefixed by service name. Used by ``xinfang up`` and tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx

from xinfang.config import DEFAULT_PORTS, SERVICES, settings
from xinfang.messaging.admin import ensure_topics
from xinfang.messaging.apache_kafka import ApacheKafka
from xinfang.messaging.broker import EmbeddedBroker, die_with_parent, port_in_use
from xinfang.messaging.profiles import profile
from xinfang.security import ensure_keypair

COLORS = {"broker": "35", "intake": "36", "routing": "33", "supervision": "32", "reporting": "34", "web": "31"}


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    """The broker and the service processes of one running system."""

    data_dir: Path
    bootstrap: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    out: TextIO | None = None
    color: bool = False
    demo: bool = True
    broker_kind: str = "tansu"  # XINFANG_BROKER of the services, and what start_broker starts
    broker: EmbeddedBroker | ApacheKafka | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def start_broker(self, say=lambda *_: None) -> str:
        if self.bootstrap:
            return self.bootstrap
        logs = self.data_dir / "logs"
        if profile(self.broker_kind).loses_topics_on_restart:
            self.broker = EmbeddedBroker(log_path=logs / "broker.log").start()
            self.env.setdefault("XINFANG_REPUBLISH_ON_START", "1")  # memory broker: start empty
        else:
            self.broker = ApacheKafka(self.data_dir / "kafka", log_path=logs / "broker.log").start(say=say)
            if self.broker.fresh:  # a new log: whatever the stores published before is not on it
                self.env.setdefault("XINFANG_REPUBLISH_ON_START", "1")
        self.bootstrap = self.broker.bootstrap
        return self.bootstrap

    def start(self, names=SERVICES, timeout: float = 60.0) -> Stack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        busy = [f"{n} {self.service_env(n)[f'{n.upper()}_PORT']}" for n in names
                if port_in_use("127.0.0.1", int(self.service_env(n)[f"{n.upper()}_PORT"]))]
        if busy:
            raise RuntimeError(f"ports in use: {', '.join(busy)} — another Xinfang running? Stop it or set "
                               f"<SERVICE>_PORT. 端口已被占用：{', '.join(busy)}")
        self.ensure_keys()
        bootstrap = self.start_broker()
        ensure_topics(bootstrap, partitions=settings().topic_partitions)
        for name in names:
            self.start_service(name)
        self.wait_healthy(names, timeout)
        return self

    def ensure_keys(self) -> None:
        """Token keys: the operator's if given, else development keys kept in the data directory."""
        given = {**os.environ, **self.env}
        if not (given.get("XINFANG_TOKEN_VERIFY_KEY") or given.get("XINFANG_TOKEN_VERIFY_KEY_FILE")):
            priv, pub = ensure_keypair(self.data_dir / "keys")
            self.env["XINFANG_TOKEN_SIGNING_KEY_FILE"] = str(priv)
            self.env["XINFANG_TOKEN_VERIFY_KEY_FILE"] = str(pub)
        if self.demo:
            self.env.setdefault("XINFANG_DEMO", "1")

    def service_env(self, name: str) -> dict:
        env = {**os.environ, **self.env, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap or "",
               "XINFANG_BROKER": self.broker_kind,
               "XINFANG_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"}
        key = f"{name.upper()}_PORT"
        env[key] = str(self.ports.get(name) or env.get(key) or DEFAULT_PORTS[name])
        for other in SERVICES:  # where the web console finds the services' APIs
            port = self.ports.get(other) or env.get(f"{other.upper()}_PORT") or DEFAULT_PORTS[other]
            env.setdefault(f"{other.upper()}_URL", f"http://127.0.0.1:{port}")
        return env

    def start_service(self, name: str) -> ServiceProcess:
        env = self.service_env(name)
        sp = ServiceProcess(name, int(env[f"{name.upper()}_PORT"]), env)
        logdir = self.data_dir / "logs"
        logdir.mkdir(parents=True, exist_ok=True)
        sp.log = logdir / f"{name}.log"
        if port_in_use(env.get(f"{name.upper()}_HOST", "127.0.0.1"), sp.port):
            raise RuntimeError(f"port {sp.port} for {name} is in use: stop what holds it or set "
                               f"{name.upper()}_PORT / 端口 {sp.port} 已被占用，请释放或设置 {name.upper()}_PORT")
        sp.proc = subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=die_with_parent)
        threading.Thread(target=self._pump, args=(sp,), daemon=True).start()
        self.services[name] = sp
        return sp

    def _pump(self, sp: ServiceProcess) -> None:
        prefix = f"{sp.name:<11}|"
        if self.color:
            prefix = f"\x1b[{COLORS.get(sp.name, '0')}m{prefix}\x1b[0m"
        with open(sp.log, "ab") as f:
            for line in iter(sp.proc.stdout.readline, b""):
                f.write(line)
                f.flush()
                if self.out is not None:
                    try:
                        self.out.write(f"{prefix} {line.decode('utf-8', 'replace').rstrip()}\n")
                        self.out.flush()
                    except ValueError:
                        return

    def wait_healthy(self, names=SERVICES, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending:
            for name in list(pending):
                sp = self.services[name]
                if sp.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {sp.proc.returncode}; see {sp.log}")
                try:
                    h = httpx.get(f"{sp.url}/health", timeout=1.0)
                    # with the demo county, intake is ready once it has heard of the divisions
                    if h.status_code == 200 and (not self.demo or h.json().get("divisions_known", 1) > 0):
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not healthy after {timeout:.0f}s: {', '.join(sorted(pending))}")
            if pending:
                time.sleep(0.2)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        sp = self.services[name]
        if sp.proc and sp.proc.poll() is None:
            os.killpg(sp.proc.pid, sig)
            sp.proc.wait(15)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        self.start_service(name)
        self.wait_healthy([name], timeout)

    def stop(self, timeout: float = 15.0) -> None:
        for sp in self.services.values():
            if sp.proc and sp.proc.poll() is None:
                try:
                    os.killpg(sp.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for sp in self.services.values():
            if sp.proc is None:
                continue
            try:
                sp.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(sp.proc.pid, signal.SIGKILL)
                sp.proc.wait()
        if self.broker:
            self.broker.stop()

    def watch(self, on_exit: Callable[[str, int], None]) -> None:
        """Block until a service exits; call on_exit(name, code)."""
        while True:
            for name, sp in self.services.items():
                code = sp.proc.poll() if sp.proc else None
                if code is not None:
                    on_exit(name, code)
                    return
            time.sleep(0.3)
