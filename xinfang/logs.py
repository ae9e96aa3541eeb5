"""Logging for every process: one line per record, personal data masked before it is written.

Plain text by default (``time level [service] logger: message``); ``XINFANG_LOG_FORMAT=json`` makes
each record one JSON object per line (``JsonFormatter``) with the correlation and causation ids
of the event being handled (``log_context``, set by the stream processor per event and by the HTTP
layer from ``X-Correlation-Id``) and the trace and span ids of the current span. Both formats go
through ``RedactingFilter``; the JSON formatter masks message and exception text once more itself.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from xinfang.privacy import RedactingFilter, redact

_context: ContextVar[dict[str, Any] | None] = ContextVar("xinfang_log_context", default=None)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Fields added to every record logged inside the block (in this task or thread, and in the
    threads ``asyncio.to_thread`` starts from it); None values are left out."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


# fields a record's own attributes may not overwrite
_BASE = ("timestamp", "service", "level", "logger", "message")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: timestamp (UTC, ISO-8601 with milliseconds),
    service, level, logger, message; then the log context (correlation_id, causation_id,
    event_id, event_type, ...), trace_id and span_id of the current span, and ``exception`` with
    the traceback when there is one. ID and phone numbers are masked in message and exception."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "service": self.service,
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for k, v in (_context.get() or {}).items():
            if k not in _BASE:
                out[k] = v
        sc = trace.get_current_span().get_span_context()
        if sc.is_valid:
            out["trace_id"] = f"{sc.trace_id:032x}"
            out["span_id"] = f"{sc.span_id:016x}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def log_format() -> str:
    return "json" if os.environ.get("XINFANG_LOG_FORMAT", "text").strip().lower() == "json" else "text"


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format() == "json":
        handler.setFormatter(JsonFormatter(service))
        _uncaught_to_log()
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)-5s [{service}] %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Faust and mode log every start step at INFO under the module that subclasses them
    # (and at DEBUG, the libraries' own chatter stays out: SQLAlchemy would log every statement)
    for noisy in ("kafka", "aiokafka", "faust", "mode", "uvicorn.access", "xinfang.messaging.streams",
                  "sqlalchemy", "httpx", "httpcore", "asyncio", "urllib3", "multipart", "opentelemetry"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("uvicorn.error").handlers[:] = []
    logging.getLogger("uvicorn").handlers[:] = []


def _uncaught_to_log() -> None:
    """In JSON, what would be printed to stderr as bare text goes through the log instead:
    warnings, and exceptions nobody caught (in the main thread or another)."""
    logging.captureWarnings(True)
    uncaught = logging.getLogger("xinfang.uncaught")

    def hook(exc_type, exc, tb) -> None:
        uncaught.critical("uncaught %s", exc_type.__name__, exc_info=(exc_type, exc, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "?"
        uncaught.error("uncaught %s in thread %s", args.exc_type.__name__, name,
                       exc_info=(args.exc_type, args.exc_value, args.exc_traceback))  # type: ignore[arg-type]

    sys.excepthook = hook
    threading.excepthook = thread_hook
