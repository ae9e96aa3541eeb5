"""The load generator's HTTP clients for bench/e2e.py: a lean asyncio HTTP/1.1 client (keep-alive
connections on asyncio streams, just enough for these JSON APIs) and one on httpx, behind one shape."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from time import perf_counter

import httpx


class TransportError(Exception):
    """The request got no HTTP answer (connection refused or reset, timeout)."""


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self):
        return json.loads(self.body)


class LeanClient:
    """Just enough HTTP/1.1 for these JSON APIs: keep-alive connections on asyncio streams.

    The default client of this benchmark. On a small machine the load generator shares the CPUs
    with the five processes it measures; measured on 2 cores, httpx used 17-31 % of a core for
    40-64 POSTs/s where this client used 1.5 % for 90-98/s, and intake accepted a third fewer
    registrations under httpx. ``--client httpx`` uses httpx instead."""

    IDLE_MAX = 2.0  # s: uvicorn drops keep-alive connections idle for 5 s; never reuse one that old

    def __init__(self, host: str, port: int, max_connections: int = 64, timeout: float = 30.0,
                 headers: dict[str, str] | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    def _take_idle(self):
        while self._idle:
            reader, writer, last_used = self._idle.pop()
            if perf_counter() - last_used < self.IDLE_MAX and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def request(self, method: str, path: str, body: dict | None = None) -> Reply:
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n{self._extra}\r\n").encode()
        async with self._slots:
            conn = self._take_idle()
            try:
                async with asyncio.timeout(self.timeout):
                    if conn is None:
                        conn = await asyncio.open_connection(self.host, self.port)
                    reader, writer = conn
                    writer.write(head + payload)
                    status, data, keep = await self._read_response(reader)
            except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                if conn:
                    conn[1].close()
                raise TransportError(f"{type(exc).__name__}: {exc}") from exc
            if keep:
                self._idle.append((reader, writer, perf_counter()))
            else:
                writer.close()
            return Reply(status, data)

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        status_line = await reader.readline()
        if not status_line:
            raise EOFError("connection closed by the server")
        status = int(status_line.split()[1])
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                chunks.append((await reader.readexactly(size + 2))[:-2])
            await reader.readline()  # the blank line after the last chunk
            data = b"".join(chunks)
        else:
            data = await reader.readexactly(int(headers.get("content-length", "0")))
        return status, data, headers.get("connection", "").lower() != "close"

    async def aclose(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


class HttpxClient:
    """The same interface on httpx.AsyncClient (``--client httpx``)."""

    def __init__(self, host: str, port: int, max_connections: int = 64, timeout: float = 30.0,
                 headers: dict[str, str] | None = None) -> None:
        self.client = httpx.AsyncClient(
            base_url=f"http://{host}:{port}", timeout=timeout, headers=headers,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))

    async def request(self, method: str, path: str, body: dict | None = None) -> Reply:
        try:
            r = await self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return Reply(r.status_code, r.content)

    async def aclose(self) -> None:
        await self.client.aclose()


CLIENTS = {"lean": LeanClient, "httpx": HttpxClient}
