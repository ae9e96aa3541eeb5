"""The printed documents' making: the QR code of the public tracking address (segno, inline SVG)
and the PDF of a document page (WeasyPrint, on Debian's Pango, with the console's stylesheet and
a CJK font), A4 as the print stylesheet lays it out."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request
from markupsafe import Markup

STATIC = Path(__file__).parent / "static"


def public_base(configured: str, request: Request) -> str:
    """The console's address as the public reaches it: the configured one (``WEB_PUBLIC_URL``),
    else the one this request came to."""
    return configured or str(request.base_url).rstrip("/")


def tracking_url(base: str, tracking_code: str) -> str:
    return f"{base}/track?{urlencode({'code': tracking_code})}"


def qr_svg(text: str) -> Markup:
    """``text`` as a QR code, an inline <svg> (medium error correction: it still reads on a worn paper)."""
    import segno

    svg = segno.make(text, error="m").svg_inline(scale=3, title="查询二维码")
    return Markup(svg)  # noqa: S704 - segno's own markup of a text it encoded


def to_pdf(html: str) -> bytes:
    """The page as PDF, its stylesheet read from the console's folder and nothing fetched from
    anywhere (a document needs no other resource: the QR code is inline). CPU-bound: callers run
    it in a thread."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    class Nothing(URLFetcher):
        def fetch(self, url, headers=None):
            raise ValueError(f"not fetched when printing: {url}")

    css = (STATIC / "style.css").read_text(encoding="utf-8")
    page = html.replace('<link rel="stylesheet" href="/static/style.css">', f"<style>{css}</style>")
    return HTML(string=page, url_fetcher=Nothing()).write_pdf()
