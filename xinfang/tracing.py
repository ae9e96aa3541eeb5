"""Tracing across HTTP and Kafka with OpenTelemetry: one registration followed from its POST to
every read model.

``setup(service)`` installs the process's tracer provider. Spans are exported only when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (OTLP over HTTP, batched); otherwise the provider has no
exporter and samples nothing it starts itself (``ParentBased(ALWAYS_OFF)``): a span costs an id and a
context switch, and the W3C ``traceparent`` still travels, so the trace id in the JSON logs
(``trace_id``) ties one registration's lines together in every service even with no collector.

Where the context travels:
- HTTP: ``TracingMiddleware`` continues an incoming ``traceparent`` header (a span per request)
  and takes ``X-Correlation-Id`` into the log context; the console's client sends the current
  ``traceparent`` to the services.
- Kafka: ``UnitOfWork.append`` stores ``current_traceparent()`` with each outbox row (the request's
  or the consumer's span, in the same transaction); the relay sends that ``traceparent`` as a Kafka
  header, in one ``publish`` span per batch linked to each row's context; the stream processor
  applies the events in a span continued from that header (one per batch when they share a trace).
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: Any = None
exporting = False


def setup(service: str) -> None:
    """The tracer provider of this process (once; later calls do nothing)."""
    global _provider, exporting
    if _provider is not None:
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    resource = Resource.create({"service.name": f"xinfang-{service}", "service.namespace": "xinfang"})
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=resource)  # the sampler of OTEL_TRACES_SAMPLER, else always on
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        exporting = True
    else:
        # nothing exported: record nothing we start ourselves; a caller's sampled trace is followed
        provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    trace.set_tracer_provider(provider)
    _provider = provider


def shutdown() -> None:
    """Flush the spans still batched (at the process's end)."""
    if _provider is not None:
        _provider.shutdown()


def tracer() -> trace.Tracer:
    return trace.get_tracer("xinfang")


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The context a W3C traceparent names; None when there is none (or it is malformed)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    ctx = _PROPAGATOR.extract(carrier)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def traceparent_of(span: trace.Span | None = None) -> str | None:
    """The W3C traceparent of ``span`` (default: the current one); None outside any trace."""
    sc = (span or trace.get_current_span()).get_span_context()
    if not sc.is_valid:
        return None
    return f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}"


def current_traceparent() -> str | None:
    return traceparent_of()


def kafka_header(headers: Any, name: str) -> str | None:
    """The value of header ``name`` among a Kafka record's headers (a list of pairs or a mapping,
    bytes values), as text."""
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for k, v in items:
        if k == name:
            return v.decode("ascii", "replace") if isinstance(v, bytes | bytearray) else str(v)
    return None


def kafka_traceparent(headers: Any) -> str | None:
    """The traceparent among a Kafka record's headers."""
    return kafka_header(headers, "traceparent")


def link_to(traceparent: str | None) -> Link | None:
    """A span link to the context a traceparent names; None when there is none."""
    ctx = context_from(traceparent)
    return None if ctx is None else Link(trace.get_current_span(ctx).get_span_context())


@contextmanager
def span(name: str, *, parent: str | None = None, kind: SpanKind = SpanKind.INTERNAL,
         attributes: dict[str, Any] | None = None, links: Sequence[str | None] = ()) -> Iterator[trace.Span]:
    """A current span named ``name``: the child of the ``parent`` traceparent if given, else of
    the current context; ``links`` (traceparents) for a batch of many parents."""
    ctx = context_from(parent) if parent else None
    span_links = [link for tp in links if (link := link_to(tp)) is not None]
    with tracer().start_as_current_span(name, context=ctx, kind=kind, attributes=attributes,
                                        links=span_links or None, record_exception=True,
                                        set_status_on_exception=True) as s:
        yield s


# probes and scrapes: the orchestrator and Prometheus ask every few seconds, nobody follows them
UNTRACED_PATHS = frozenset({"/health", "/livez", "/readyz", "/metrics"})


class TracingMiddleware:
    """ASGI: a span per HTTP request, continued from its ``traceparent`` header; the request's
    ``X-Correlation-Id`` (if any) goes into the log context of everything the request logs.
    Probes and scrapes (``UNTRACED_PATHS``) get no span, as OpenTelemetry's instrumentations
    leave out their excluded URLs."""

    def __init__(self, app: Any, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in UNTRACED_PATHS:
            return await self.app(scope, receive, send)
        from xinfang.logs import log_context

        tp = correlation = None
        for k, v in scope.get("headers") or ():
            if k == b"traceparent":
                tp = v.decode("latin-1")
            elif k == b"x-correlation-id":
                correlation = v.decode("latin-1")[:128]
        status: dict[str, int] = {}

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        route = f"{scope.get('method', '')} {scope.get('path', '')}"
        with span(route, parent=tp, kind=SpanKind.SERVER,
                  attributes={"http.request.method": scope.get("method", ""), "url.path": scope.get("path", "")}) as s:
            try:
                with log_context(correlation_id=correlation) if correlation else _nothing():
                    await self.app(scope, receive, send_status)
            finally:
                if "code" in status and s.is_recording():
                    s.set_attribute("http.response.status_code", status["code"])


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def start_publish_spans(topics: Sequence[str], traceparents: Sequence[str | None]) -> tuple[
        list[trace.Span], list[str | None]]:
    """The relay's spans for sending one batch of outbox rows, and the traceparent each row's
    Kafka record carries.

    As OpenTelemetry's messaging conventions do for a batch: each record carries the context it
    was created in (the span that appended it, in the same transaction), so the consumer's span
    is that span's child; one ``publish`` span covers the send, linked to every record's context.
    A row stored outside any trace gets a span of its own, the root of a new trace. Not made
    current; the caller ends them after the ack (``end_spans``)."""
    spans: list[trace.Span] = []
    carried: list[str | None] = []
    links: dict[str, Link] = {}
    for topic, tp in zip(topics, traceparents, strict=True):
        link = (links.get(tp) or link_to(tp)) if tp else None
        if tp and link is not None:
            links[tp] = link
            carried.append(tp)
            continue
        root = tracer().start_span(f"publish {topic}", kind=SpanKind.PRODUCER,
                                   attributes={"messaging.system": "kafka", "messaging.destination.name": topic})
        spans.append(root)
        carried.append(traceparent_of(root))
    if links:
        names = sorted(set(topics))
        spans.append(tracer().start_span(
            f"publish {names[0] if len(names) == 1 else 'batch'}", kind=SpanKind.PRODUCER, links=list(links.values()),
            attributes={"messaging.system": "kafka", "messaging.destination.name": ",".join(names),
                        "messaging.batch.message_count": len(topics)}))
    return spans, carried


def end_spans(spans: Sequence[trace.Span], error: BaseException | None = None) -> None:
    for s in spans:
        if error is not None and s.is_recording():
            s.record_exception(error)
            s.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
        s.end()


def kafka_headers(traceparent: str | None) -> list[tuple[str, bytes]]:
    """The Kafka headers that carry a record's trace context to the consumer."""
    return [("traceparent", traceparent.encode("ascii"))] if traceparent else []
