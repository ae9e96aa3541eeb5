"""A throwaway PostgreSQL cluster owned by one process: Debian's server binaries, ``initdb`` into a
fresh folder, a free 127.0.0.1 port, trust authentication, gone when ``stop`` runs or the owner dies.

The test run (and the benchmarks) use it where no server is named and no Docker engine answers, so
nothing depends on a server that happens to listen on 127.0.0.1:5432. ``initdb`` and ``postgres``
refuse to run as root: as root they run as the ``postgres`` user that Debian's package creates.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from xinfang.messaging.broker import free_port

# what the tests need, not what production needs: the cluster is thrown away with the run
_TEST_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
    "logging_collector": "off",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or they cannot be run: the message says what to do."""


def server_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server binaries (``/usr/lib/postgresql/<major>/bin``), or the
    directory of ``initdb`` on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def server_version(bin_dir: Path) -> str:
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, timeout=10)
    found = re.search(r"\d+(\.\d+)+", out.stdout) if out.returncode == 0 else None
    return found.group(0) if found else "unknown"


def _die_with_parent_quickly() -> None:
    """In the child, after it became the ``postgres`` user (a change of user clears the setting):
    SIGQUIT, PostgreSQL's immediate shutdown, when the owning process dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalPostgres:
    """``start()`` it, read ``admin_url``, ``stop()`` it (which deletes its folder)."""

    def __init__(self, base_dir: str | Path | None = None, port: int | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir else None
        self.port = port
        self.bin_dir: Path | None = None
        self.version = "unknown"
        self.folder: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._user: str | None = None

    @property
    def data_dir(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def describe(self) -> str:
        return (f"PostgreSQL {self.version} of this run ({self.bin_dir}), cluster in {self.folder}, "
                f"127.0.0.1:{self.port}")

    def _run_as(self) -> dict:
        """Popen keywords that run a server binary as a user it accepts."""
        if os.geteuid() != 0:
            return {}
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' user to run PostgreSQL as: install Debian's "
                "package (apt-get install postgresql) / 以 root 运行但没有 postgres 用户：请安装 postgresql 软件包") from None
        self._user = "postgres"
        return {"user": "postgres", "group": "postgres"}

    def start(self, timeout: float = 60.0) -> LocalPostgres:
        self.bin_dir = server_bin_dir()
        if self.bin_dir is None:
            raise PostgresUnavailable(
                "no PostgreSQL server binaries (initdb) found: install Debian's package "
                "(apt-get install postgresql; `make test` does so when run as root) or set "
                "XINFANG_TEST_POSTGRES_URL / 未找到 PostgreSQL 服务器程序：请安装 postgresql 或设置 XINFANG_TEST_POSTGRES_URL")
        self.version = server_version(self.bin_dir)
        as_user = self._run_as()
        self.folder = Path(tempfile.mkdtemp(prefix="xinfang-pg-", dir=self.base_dir))
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        init = subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, timeout=120, cwd=self.folder, **as_user)
        if init.returncode != 0:
            self._remove_folder()
            raise PostgresUnavailable(f"initdb failed ({init.returncode}): {init.stderr.strip()[-800:]}")
        self.port = self.port or free_port()
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-k", str(self.folder)]  # its socket in its own folder, never /var/run/postgresql
        for k, v in _TEST_SETTINGS.items():
            args += ["-c", f"{k}={v}"]
        log = open(self.folder / "server.log", "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
                                     start_new_session=True, preexec_fn=_die_with_parent_quickly, **as_user)
        log.close()
        try:
            self._wait_ready(self.proc, self.folder, timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self, proc: subprocess.Popen, folder: Path, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                tail = (folder / "server.log").read_text(errors="replace")[-800:]
                raise PostgresUnavailable(f"postgres exited with {proc.returncode}: {tail}")
            try:
                psycopg.connect(self.admin_url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(f"PostgreSQL did not accept connections within {timeout:.0f}s") from None
                time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: disconnects clients, then stops
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGQUIT)
                self.proc.wait(5)
        self.proc = None
        self._remove_folder()

    def _remove_folder(self) -> None:
        if self.folder and self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_shared: LocalPostgres | None = None


def shared_server(url: str | None = None) -> str:
    """An admin URL for tools (the benchmarks): ``url`` or ``XINFANG_TEST_POSTGRES_URL`` if given,
    else one cluster of this process, started on first use and stopped when the process exits."""
    global _shared
    given = url or os.environ.get("XINFANG_TEST_POSTGRES_URL")
    if given:
        return given
    if _shared is None:
        import atexit

        _shared = LocalPostgres().start()
        atexit.register(_shared.stop)
        print(f"started {_shared.describe()}", flush=True)
    return _shared.admin_url
