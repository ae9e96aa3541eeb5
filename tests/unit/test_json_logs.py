"""XINFANG_LOG_FORMAT=json: one JSON object per line with the service, the level, the ids of the
event being handled and of the current span, and never an ID or phone number in clear: not in
the message, its arguments, nor the exception's text."""
from __future__ import annotations

import io
import json
import logging

import pytest

from xinfang import tracing
from xinfang.logs import JsonFormatter, configure, log_context, log_format
from xinfang.privacy import RedactingFilter

ID_NUMBER = "110101199003071233"
PHONE = "13800000000"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def json_log():
    """A logger writing through the JSON formatter and the redacting filter, as configure sets up."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("intake"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("xinfang.test_json_logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)

    def lines() -> list[dict]:
        text = out.getvalue()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]

    yield logger, lines, out
    logger.handlers[:] = []


def test_one_object_per_line_with_the_standard_fields(json_log):
    logger, lines, _ = json_log
    logger.info("case %s registered\nsecond line", "c-1")
    logger.warning("careful")
    first, second = lines()
    assert first["service"] == "intake"
    assert first["level"] == "INFO"
    assert first["logger"] == "xinfang.test_json_logs"
    assert first["message"] == "case c-1 registered\nsecond line"
    assert first["timestamp"].endswith("+00:00") and "T" in first["timestamp"]
    assert second["level"] == "WARNING"
    assert "correlation_id" not in first and "trace_id" not in first and "exception" not in first


def test_id_and_phone_numbers_are_masked_in_message_arguments_and_exception(json_log):
    logger, lines, out = json_log
    logger.info("petitioner %s phone %s", ID_NUMBER, PHONE)
    logger.info(f"inline {ID_NUMBER} / {PHONE}")
    try:
        raise ValueError(f"cannot register {ID_NUMBER} with phone {PHONE}")
    except ValueError:
        logger.exception("registration failed for %s", PHONE)
    raw = out.getvalue()
    assert ID_NUMBER not in raw and PHONE not in raw
    a, b, c = lines()
    assert a["message"] == "petitioner 1101**********1233 phone 138****0000"
    assert "1101**********1233" in b["message"]
    assert c["message"] == "registration failed for 138****0000"
    assert "ValueError: cannot register 1101**********1233 with phone 138****0000" in c["exception"]
    assert "Traceback" in c["exception"]


def test_the_formatter_masks_even_without_the_filter():
    fmt = JsonFormatter("routing")
    try:
        raise RuntimeError(ID_NUMBER)
    except RuntimeError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "phone %s", (PHONE,), sys.exc_info())
    line = fmt.format(record)
    assert ID_NUMBER not in line and PHONE not in line
    assert json.loads(line)["exception"].endswith("RuntimeError: 1101**********1233")


def test_event_context_and_trace_ids_are_on_the_lines_inside(json_log):
    logger, lines, _ = json_log
    tracing.setup("test")
    with log_context(correlation_id="corr-1", causation_id="cause-1", event_id="ev-1"):
        with tracing.span("apply CaseRegistered", parent=TRACEPARENT):
            logger.info("inside")
            with log_context(event_type="CaseRegistered", causation_id=None):
                logger.info("nested")
    logger.info("outside")
    inside, nested, outside = lines()
    assert inside["correlation_id"] == "corr-1" and inside["causation_id"] == "cause-1"
    assert inside["event_id"] == "ev-1"
    assert inside["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert inside["span_id"] != "b7ad6b7169203331"  # a child span of the caller's
    assert nested["event_type"] == "CaseRegistered" and nested["causation_id"] == "cause-1"
    assert "correlation_id" not in outside and "trace_id" not in outside


def test_a_span_continues_the_traceparent_it_is_given():
    tracing.setup("test")
    with tracing.span("x", parent=TRACEPARENT):
        tp = tracing.current_traceparent()
    assert tp is not None
    version, trace_id, span_id, _flags = tp.split("-")
    assert (version, trace_id) == ("00", "0af7651916cd43dd8448eb211c80319c")
    assert span_id != "b7ad6b7169203331"
    assert tracing.context_from("not-a-traceparent") is None
    assert tracing.kafka_traceparent([("event_id", b"e"), ("traceparent", tp.encode())]) == tp
    assert tracing.kafka_traceparent(None) is None


def test_without_an_exporter_nothing_is_recorded_but_the_trace_travels():
    tracing.setup("test")
    with tracing.span("root") as s:
        assert not s.is_recording()  # sampled out: no exporter, nothing kept
        tp = tracing.current_traceparent()
    assert tp is not None and tp.startswith("00-")
    spans, carried = tracing.start_publish_spans(["intake.events", "intake.events"], [tp, None])
    tracing.end_spans(spans)
    # a record carries the context it was appended in; one stored outside any trace starts its own
    assert carried[0] == tp and tracing.kafka_headers(carried[0]) == [("traceparent", tp.encode())]
    assert carried[1] is not None and carried[1].split("-")[1] != tp.split("-")[1]
    assert len(spans) == 2  # the new trace's root, and the one span of the batch's send


def test_configure_picks_the_format(monkeypatch, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        monkeypatch.setenv("XINFANG_LOG_FORMAT", "json")
        assert log_format() == "json"
        configure("supervision", "INFO")
        logging.getLogger("uvicorn.error").info("Started server process %s", PHONE)
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert json.loads(line) | {"timestamp": None} == {
            "timestamp": None, "service": "supervision", "level": "INFO", "logger": "uvicorn.error",
            "message": "Started server process 138****0000"}
        monkeypatch.delenv("XINFANG_LOG_FORMAT")
        assert log_format() == "text"
        configure("supervision", "INFO")
        logging.getLogger("xinfang.x").info("plain %s", ID_NUMBER)
        assert "[supervision] xinfang.x: plain 1101**********1233" in capsys.readouterr().err
    finally:
        import sys
        import threading
        sys.excepthook, threading.excepthook = sys.__excepthook__, threading.__excepthook__
        logging.captureWarnings(False)
        root.handlers[:], level = saved
        root.setLevel(level)


def test_the_http_layer_continues_the_trace_and_takes_the_correlation_header(json_log):
    import asyncio

    import httpx
    from fastapi import FastAPI

    from xinfang.web import without_native_telemetry

    logger, lines, _ = json_log
    tracing.setup("test")
    app = FastAPI(**without_native_telemetry())  # as every service builds its app: our span is the one
    app.add_middleware(tracing.TracingMiddleware, service="intake")
    seen: dict = {}

    @app.get("/x")
    async def x():
        logger.info("handling")
        seen["traceparent"] = tracing.current_traceparent()
        return {}

    @app.get("/health")
    async def health():
        seen["probe"] = tracing.current_traceparent()
        return {}

    async def calls():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            traced = await client.get("/x", headers={"traceparent": TRACEPARENT, "X-Correlation-Id": "req-7"})
            assert traced.status_code == 200
            assert (await client.get("/x")).status_code == 200
            assert (await client.get("/health")).status_code == 200

    asyncio.run(calls())
    assert seen["probe"] is None  # probes and scrapes get no span
    traced, plain = lines()
    assert traced["correlation_id"] == "req-7"
    assert traced["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert "correlation_id" not in plain and len(plain["trace_id"]) == 32  # a trace of its own
    assert plain["trace_id"] != traced["trace_id"]
    assert seen["traceparent"].split("-")[1] == plain["trace_id"]


def test_the_console_sends_the_current_traceparent():
    from services.web.client import Api

    tracing.setup("test")
    api = Api(None, {}, "token")  # type: ignore[arg-type]  # headers only: no request is made
    assert "traceparent" not in api._headers()
    with tracing.span("page", parent=TRACEPARENT):
        sent = api._headers()["traceparent"]
    assert sent.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
