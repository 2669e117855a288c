"""Page images to recognise, produced one at a time: PDF pages rendered with PDFium (pypdfium2),
image files decoded with Pillow (each frame of a multi-page TIFF a page).

Memory stays bounded: a page is rendered or decoded only when it is recognised, at most
`MAX_SIDE` pixels on its longer side, and an image file larger than `MAX_PIXELS` is refused before
it is decoded (Pillow reads the size from the header).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.errors import DocumentError

if TYPE_CHECKING:
    import numpy as np

DPI = 200  # scans of A4 text at 200 dpi: 10.5 pt print is ~29 px high, what the models read best
MAX_SIDE = 4800  # pixels: an A0 poster is rendered smaller rather than at 200 dpi (≤ 69 MB a page)
MAX_PIXELS = 100_000_000  # an image file of more pixels than this is refused (a decompression bomb)


@dataclass(frozen=True)
class PageImage:
    """A page's pixels (H×W×3 RGB) and the size of one pixel in the page's own unit: PDF points
    (1/72 inch) for a PDF page, the file's own pixels for an image (1 unless it was shrunk)."""

    pixels: np.ndarray
    unit_per_pixel: float


PageSource = Callable[[], PageImage]  # renders or decodes one page when called


def pdf_document(data: bytes) -> Any:
    """PDFium's document, or DocumentError (pypdfium2 missing, or a file PDFium cannot open)."""
    try:
        import pypdfium2
    except ImportError:
        raise DocumentError("PDF 扫描页需要 pypdfium2 才能识别（pip install pypdfium2） / rendering scanned PDF pages needs pypdfium2") from None
    try:
        return pypdfium2.PdfDocument(data)
    except Exception as exc:
        raise DocumentError(f"PDF 已损坏或无法渲染 / damaged PDF, cannot render ({type(exc).__name__})") from None


def pdf_page_is_scan(pdf: Any, index: int) -> bool:
    """Whether page `index` shows an image over at least a third of it (a scan; a logo is not)."""
    import pypdfium2.raw as pdfium_c

    page = pdf[index]
    try:
        width, height = page.get_size()
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
            left, bottom, right, top = obj.get_bounds()
            if (right - left) * (top - bottom) >= width * height / 3:
                return True
        return False
    finally:
        page.close()


def pdf_page(pdf: Any, index: int) -> PageSource:
    """The renderer of page `index` (0-based) of an open PDFium document, at DPI or smaller."""

    def render() -> PageImage:
        page = pdf[index]
        try:
            width, height = page.get_size()  # points
            scale = min(DPI / 72, MAX_SIDE / max(width, height, 1))
            bitmap = page.render(scale=scale)
            pixels = bitmap.to_numpy()[:, :, :3].copy()  # BGR(x) → BGR, owned before the bitmap is freed
            bitmap.close()
            return PageImage(pixels[:, :, ::-1], 1 / scale)
        finally:
            page.close()

    return render


def image_pages(data: bytes) -> tuple[int, Iterator[PageSource]]:
    """The number of pages (frames) of an image file and their decoders, or DocumentError."""
    try:
        from PIL import Image
    except ImportError:
        raise DocumentError("读取图片需要 Pillow（pip install pillow） / reading images needs Pillow") from None
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        frames = getattr(image, "n_frames", 1)
    except Exception as exc:
        raise DocumentError(f"图片已损坏或无法读取 / damaged or unreadable image ({type(exc).__name__})") from None
    if width * height > MAX_PIXELS:
        raise DocumentError(f"图片过大：{width}×{height} 像素，超过 {MAX_PIXELS:,} / image too large")

    def frame(i: int) -> PageSource:
        def decode() -> PageImage:
            import numpy as np
            from PIL import ImageOps

            image.seek(i)
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # a large JPEG is decoded at a fraction of its size
            rgb = ImageOps.exif_transpose(image.convert("RGB"))  # a phone photo's EXIF orientation
            if max(rgb.size) > MAX_SIDE:
                rgb.thumbnail((MAX_SIDE, MAX_SIDE))
            return PageImage(np.asarray(rgb), max(width, height) / max(rgb.size))  # boxes in the file's pixels

        return decode

    return frames, (frame(i) for i in range(frames))
