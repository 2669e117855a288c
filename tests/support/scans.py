"""Scanned and photographed pages made here from text, for the OCR tests and bench/formats.py.

Text is typeset like a government document (Noto Serif CJK, from Debian's fonts-noto-cjk, which
`make browser` installs): A4 at 200 dpi, 2.5 cm margins, a two-character indent at each paragraph,
then degraded as a scanner (a slight rotation, speckle, JPEG) or a phone (perspective, blur, uneven
light) would.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
DPI = 200
A4 = (round(210 / 25.4 * DPI), round(297 / 25.4 * DPI))  # 1654 × 2339 px


def font_file() -> Path | None:
    return next((f for f in FONT_FILES if f.exists()), None)


def _font(points: float) -> ImageFont.FreeTypeFont:
    path = font_file()
    if path is None:
        raise FileNotFoundError("no CJK font: apt-get install fonts-noto-cjk (make browser)")
    return ImageFont.truetype(str(path), round(points / 72 * DPI))


def typeset(paragraphs: list[str], points: float = 12, title: str | None = None) -> list[tuple[Image.Image, str]]:
    """White A4 pages with the paragraphs in black, wrapped at the margin, as many pages as needed;
    each with the text drawn on it (its lines joined, for measuring what OCR reads back)."""
    font, margin = _font(points), round(2.5 / 2.54 * DPI)
    em = font.size
    width = A4[0] - 2 * margin
    per_line = int(width // em)
    leading = round(em * 1.6)
    lines: list[tuple[str, int, bool]] = []  # text, x offset, centred
    if title:
        for i in range(0, len(title), per_line - 4):
            lines.append((title[i : i + per_line - 4], 0, True))
        lines.append(("", 0, False))
    for para in paragraphs:
        text, first = para.strip(), True
        while text:
            room = per_line - (2 if first else 0)
            lines.append((text[:room], 2 * em if first else 0, False))
            text, first = text[room:], False
    pages: list[Image.Image] = []
    drawn: list[str] = []
    y, page = A4[1], None
    for text, x, centred in lines:
        if y + leading > A4[1] - margin:
            page = Image.new("L", A4, 255)
            pages.append(page)
            drawn.append("")
            y = margin
        drawn[-1] += text
        assert page is not None
        draw = ImageDraw.Draw(page)
        if centred:
            x = (width - round(draw.textlength(text, font=font))) // 2
        draw.text((margin + x, y), text, font=font, fill=0)
        y += leading
    return [(p.convert("RGB"), t) for p, t in zip(pages, drawn)]


def scanned(page: Image.Image, degrees: float = 1.5, seed: int = 0, quality: int = 75) -> Image.Image:
    """As a flatbed scanner gives it: turned a little, grey paper, speckle, JPEG artefacts."""
    rng = np.random.default_rng(seed)
    page = page.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255), expand=False)
    pixels = np.asarray(page).astype(np.float32) * 0.92 + 10  # paper is not white, toner not black
    pixels += rng.normal(0, 6, pixels.shape[:2])[:, :, None]
    specks = rng.random(pixels.shape[:2]) < 0.0015
    pixels[specks] = rng.uniform(0, 120, int(specks.sum()))[:, None]
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def photographed(page: Image.Image, seed: int = 0, strength: float = 1.0) -> Image.Image:
    """As a phone gives it: the page in perspective on a darker desk, a little out of focus, lit
    unevenly (brighter at one corner), saved as JPEG; `strength` 2 doubles the keystone, the blur
    and the fall of light."""
    rnd = random.Random(seed)
    w, h = page.size
    canvas = (round(w * 1.1), round(h * 1.08))
    # where the page's corners land on the photo (top-left, top-right, bottom-right, bottom-left)
    d = [rnd.uniform(0.02, 0.05) * strength for _ in range(8)]
    cw, ch = canvas
    quad = [(cw * d[0], ch * d[1]), (cw * (1 - d[2]), ch * d[3] * 0.5), (cw * (1 - d[4] * 0.6), ch * (1 - d[5])), (cw * d[6] * 1.2, ch * (1 - d[7] * 0.6))]
    coeffs = _perspective(quad, [(0, 0), (w, 0), (w, h), (0, h)])
    desk = Image.new("RGB", canvas, (90, 80, 70))
    warped = page.transform(canvas, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=None)
    mask = Image.new("L", page.size, 255).transform(canvas, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    desk.paste(warped, (0, 0), mask)
    photo = desk.filter(ImageFilter.GaussianBlur(1.2 * strength))
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    fall = min(0.35 * strength, 0.7)
    light = 1 - fall * (xx / cw * 0.6 + yy / ch * 0.4)  # bright top-left, dim bottom-right
    pixels = np.asarray(photo).astype(np.float32) * light[:, :, None]
    pixels += np.random.default_rng(seed).normal(0, 4, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=80)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def _perspective(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """PIL's eight coefficients mapping output points `src` back to input points `dst`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return list(np.linalg.solve(np.array(rows, float), np.array(rhs, float)))


def image_pdf(pages: list[Image.Image]) -> bytes:
    """An image-only PDF (no text layer) of the pages at 200 dpi, as a scanner's PDF is."""
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=DPI, save_all=True, append_images=pages[1:])
    return out.getvalue()


def image_bytes(page: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    page.save(out, fmt)
    return out.getvalue()
