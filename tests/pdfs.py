"""Reading a PDF's pages in the tests without a PDF library: the page dictionaries may sit in
compressed object streams (WeasyPrint writes PDF 1.7 with them), so the streams are inflated first."""
from __future__ import annotations

import re
import zlib

STREAM_START = re.compile(rb"stream\r?\n")
MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]")
PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")


def _objects(pdf: bytes) -> bytes:
    """The PDF with every deflated stream inflated beside it. Each stream is inflated from its
    start to the end of its own zlib data (a regex up to "endstream" went astray when a font's
    binary happened to hold those bytes, and the page dictionaries were then never found)."""
    out = [pdf]
    for m in STREAM_START.finditer(pdf):
        d = zlib.decompressobj()
        try:
            data = d.decompress(memoryview(pdf)[m.end():])
        except zlib.error:
            continue  # not a deflated stream (an image, a font part), or not a stream's start
        if d.eof:
            out.append(data)
    return b"\n".join(out)


def page_sizes(pdf: bytes) -> tuple[int, list[tuple[float, float]]]:
    """How many pages, and the size in points of each media box found."""
    text = _objects(pdf)
    return len(PAGE.findall(text)), [(float(w), float(h)) for w, h in MEDIA_BOX.findall(text)]


def all_a4(pdf: bytes) -> bool:
    """At least one page, and every page (its media box, or the one its page tree gives it) A4:
    210 × 297 mm, 595.3 × 841.9 points, to a point."""
    pages, boxes = page_sizes(pdf)
    return pages >= 1 and bool(boxes) and all(abs(w - 595.3) < 1.2 and abs(h - 841.9) < 1.2 for w, h in boxes)
