"""Apache Kafka as a local process: the broker operators run, for the tests and ``xinfang up --broker kafka``.

The jars come from Maven Central (``deploy/kafka/pom.xml``, ``mvn dependency:copy-dependencies``)
into a cache outside the repository, once per version. One node is broker and KRaft controller,
on free 127.0.0.1 ports, with its log on disk: started again on the same folder it has every topic,
committed offset and producer state it had, so nothing needs republishing. The heap is capped.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from xinfang.messaging.broker import BrokerError, die_with_parent, free_port, port_in_use, wait_for_port

# the version docker-compose.yml runs (apache/kafka:<version>) and deploy/kafka/pom.xml names;
# tests/test_compose.py checks that the three agree
KAFKA_VERSION = "3.9.1"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"
HEAP_MB = 512

# single node: every internal topic has one replica; few partitions for the offsets topic, so the
# first group join does not wait for 50 of them; no topic made by accident
_SERVER = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={log_dirs}
auto.create.topics.enable=false
log.retention.ms=-1
num.partitions=4
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
# restarted after a kill, the node waits for its own earlier registration to expire before it serves
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
num.io.threads=4
"""

_LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.log.LogManager=INFO
"""


def cache_dir() -> Path:
    explicit = os.environ.get("XINFANG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xinfang"


def java_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def libs_dir(version: str = KAFKA_VERSION) -> Path:
    return cache_dir() / f"kafka-{version}" / "libs"


def unavailable(version: str = KAFKA_VERSION) -> str | None:
    """None if Apache Kafka can be started here, else why not."""
    if java_binary() is None:
        return "no Java runtime (java) on PATH or in JAVA_HOME: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"
    if not (libs_dir(version) / ".complete").exists():
        if shutil.which("mvn") is None:
            return f"Apache Kafka {version}'s jars are not cached in {libs_dir(version)} and Maven (mvn) is missing to fetch them"
        if not POM.exists():
            return f"{POM} is missing: the jars are fetched with it"
    return None


def ensure_jars(version: str = KAFKA_VERSION, say=print) -> Path:
    """The broker's jars, fetched from Maven Central on first use (about 50 MB) and kept in the cache."""
    libs = libs_dir(version)
    if (libs / ".complete").exists():
        return libs
    reason = unavailable(version)
    if reason:
        raise BrokerError(reason)
    libs.parent.mkdir(parents=True, exist_ok=True)
    with open(libs.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs fetching at once: the second waits, then finds them
        if (libs / ".complete").exists():
            return libs
        say(f"fetching Apache Kafka {version} from Maven Central into {libs} (once) … "
            f"正在从 Maven Central 下载 Apache Kafka {version}（仅首次）")
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
        cmd = ["mvn", "-B", "-q", "-f", str(POM), f"-Dkafka.version={version}",
               f"{DEPENDENCY_PLUGIN}:copy-dependencies", f"-DoutputDirectory={staging}", "-DincludeScope=runtime"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if done.returncode != 0 or not any(staging.glob(f"kafka_2.13-{version}.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            raise BrokerError(f"mvn could not fetch Apache Kafka {version} ({done.returncode}): "
                              f"{(done.stdout + done.stderr).strip()[-1500:]}")
        (staging / ".complete").write_text(version)
        if libs.exists():
            shutil.rmtree(libs)
        staging.rename(libs)
    return libs


def _cluster_id() -> str:
    """A random cluster id as Kafka's own Uuid.randomUuid makes them: never starting with "-",
    which the storage tool's argument parser would take for an option (1 start in 64 failed)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


class ApacheKafka:
    """One KRaft node. ``root`` keeps its configuration, log and ports; without one it lives in a
    temporary folder removed by ``stop``. ``fresh`` says whether this start formatted an empty log
    (so whatever the stores had published before is not on it)."""

    def __init__(self, root: str | Path | None = None, *, port: int | None = None,
                 log_path: str | Path | None = None, version: str = KAFKA_VERSION, heap_mb: int = HEAP_MB) -> None:
        self._temporary = root is None
        self.root = Path(root) if root else None
        self.version = version
        self.heap_mb = heap_mb
        self.host = "127.0.0.1"
        self.port = port
        self.controller_port: int | None = None
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen | None = None
        self.fresh = False

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_dir(self) -> Path:
        assert self.root is not None
        return self.root / "log"

    def describe(self) -> str:
        return f"Apache Kafka {self.version} (KRaft, {self.heap_mb} MiB heap) at {self.bootstrap}, log in {self.log_dir}"

    # -- set-up
    def _prepare(self, say) -> list[str]:
        libs = ensure_jars(self.version, say=say)
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="xinfang-kafka-"))
        root = self.root
        root.mkdir(parents=True, exist_ok=True)
        self._choose_ports(root)
        config = root / "server.properties"
        config.write_text(_SERVER.format(port=self.port, controller_port=self.controller_port, log_dirs=self.log_dir))
        (root / "log4j.properties").write_text(_LOG4J)
        java = java_binary()
        if java is None:
            raise BrokerError(unavailable(self.version) or "no Java runtime")
        jvm = [java, f"-Xmx{self.heap_mb}m", "-Xms128m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
               f"-Dlog4j.configuration=file:{root / 'log4j.properties'}", "-cp", f"{libs}/*"]
        self.fresh = not (self.log_dir / "meta.properties").exists()
        if self.fresh:
            fmt = subprocess.run([*jvm, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config)],
                                 capture_output=True, text=True, timeout=120)
            if fmt.returncode != 0:
                raise BrokerError(f"kafka-storage format failed: {(fmt.stdout + fmt.stderr).strip()[-800:]}")
        return [*jvm, "kafka.Kafka", str(config)]

    def _choose_ports(self, root: Path) -> None:
        """The ports of the last start on this folder when they are free (clients keep their
        bootstrap address across a restart), else new free ones."""
        saved = root / "ports.json"
        if self.port is None and saved.exists():
            ports = json.loads(saved.read_text())
            if not any(port_in_use(self.host, p) for p in ports.values()):
                self.port, self.controller_port = ports["broker"], ports["controller"]
        self.port = self.port or free_port()
        if self.controller_port is None or self.controller_port == self.port:
            self.controller_port = free_port()
            while self.controller_port == self.port:
                self.controller_port = free_port()
        saved.write_text(json.dumps({"broker": self.port, "controller": self.controller_port}))

    # -- lifecycle
    def start(self, timeout: float = 90.0, say=lambda *_: None) -> ApacheKafka:
        cmd = self._prepare(say)
        assert self.root is not None and self.port is not None  # both set by _prepare
        log_path = self.log_path or self.root / "broker.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
                                         start_new_session=True, preexec_fn=die_with_parent)
        try:
            wait_for_port(self.host, self.port, timeout)
            self._wait_serving(self.proc, log_path, timeout)
        except BrokerError:
            self.kill()
            raise
        return self

    def _wait_serving(self, proc: subprocess.Popen, log: Path, timeout: float) -> None:
        """Listening is not yet serving: wait until the broker answers metadata."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise BrokerError(f"Apache Kafka exited with {proc.returncode}; see {log}")
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="xinfang-probe",
                                         request_timeout_ms=5000)
                try:
                    admin.describe_cluster()
                    return
                finally:
                    admin.close()
            except (KafkaError, OSError):
                if time.monotonic() > deadline:
                    raise BrokerError(f"Apache Kafka at {self.bootstrap} did not serve within {timeout:.0f}s") from None
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: the broker dies mid-write, as a lost machine would; its log stays."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # controlled shutdown: flushes and closes the log cleanly
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._temporary and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> ApacheKafka:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
