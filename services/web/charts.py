"""Inline SVG charts drawn on the server: no script, print well, read without JavaScript."""
from __future__ import annotations

from html import escape

from markupsafe import Markup

PALETTE = "#2f6fb5"


def _fmt(v: float, percent: bool) -> str:
    return f"{v * 100:.1f}%" if percent else (f"{v:g}" if isinstance(v, float) else str(v))


def bars(rows: list[tuple[str, float | None]], *, percent: bool = False, title: str = "", width: int = 560) -> Markup:
    """Horizontal bars, one row per label (breakdowns and rankings)."""
    rows = [(str(k), v) for k, v in rows]
    if not rows:
        return Markup('<p class="muted">暂无数据</p>')
    top = max((v or 0) for _, v in rows) or 1
    label_w, row_h = 150, 24
    plot = width - label_w - 70
    h = row_h * len(rows) + 8
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{h}" '
           f'viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">']
    for i, (k, v) in enumerate(rows):
        y = 4 + i * row_h
        w = 0 if v is None else max(1, int(plot * (v / top)))
        text = "—" if v is None else _fmt(v, percent)
        out.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12">{escape(k[:14])}</text>'
                   f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="16" fill="{PALETTE}">'
                   f'<title>{escape(k)}: {text}</title></rect>'
                   f'<text x="{label_w + w + 4}" y="{y + 16}" font-size="12">{text}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def columns(rows: list[tuple[str, float | None]], *, title: str = "", width: int = 560, height: int = 200) -> Markup:
    """Vertical columns over time (the trend by month)."""
    if not rows:
        return Markup('<p class="muted">暂无数据</p>')
    top = max((v or 0) for _, v in rows) or 1
    base, left = height - 30, 30
    step = (width - left - 10) / len(rows)
    bw = max(4, int(step * 0.7))
    # whole labels ("2026年11月"), on every n-th column so that they do not overlap: cutting them
    # to their last characters had read "6年11月"
    every = max(1, -(-10 * max(len(str(k)) for k, _ in rows) // max(int(step), 1)))
    out = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
           f'<line x1="{left}" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#888"/>']
    for i, (k, v) in enumerate(rows):
        x = left + i * step + (step - bw) / 2
        hgt = 0 if v is None else int((base - 20) * (v / top))
        out.append(f'<rect x="{x:.0f}" y="{base - hgt}" width="{bw}" height="{hgt}" fill="{PALETTE}">'
                   f'<title>{escape(str(k))}: {v}</title></rect>'
                   f'<text x="{x + bw / 2:.0f}" y="{base - hgt - 4}" font-size="11" text-anchor="middle">'
                   f'{"" if v is None else v}</text>'
                   + (f'<text x="{x + bw / 2:.0f}" y="{base + 14}" font-size="10" text-anchor="middle">{escape(str(k))}</text>'
                      if i % every == 0 else ""))
    out.append("</svg>")
    return Markup("".join(out))


def series(rows: list[dict] | None, value: str = "registered", label: str = "label") -> list[tuple[str, float | None]]:
    """[(label, value)] from an API's rows."""
    return [(str(r.get(label) or r.get("unit_name") or r.get("key") or ""), r.get(value)) for r in rows or []]
