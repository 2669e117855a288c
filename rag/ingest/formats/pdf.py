"""PDFs: the text layer of each page, and where each page starts so citations can name the page.

pypdf reads them; its own bounds on streams refuse decompression bombs, and the text-length limit
is checked page by page so that a huge document stops early. A page without a text layer (fewer
than `OCR_BELOW` characters) that shows an image is a scan: it is rendered with PDFium and
recognised (formats/ocr/), one page at a time; pages with text are never OCR'd.
"""

from __future__ import annotations

import io
import re

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats.base import Decode, Extracted, too_much_text

SUFFIXES = (".pdf",)
OCR_BELOW = 20  # a page's text layer of fewer non-blank characters than this (a scan's stamp, a page number) is recognised instead


def pdf_text(data: bytes, limits: Limits = Limits()) -> Extracted:
    try:
        from pypdf import PdfReader
        from pypdf.errors import LimitReachedError, PdfReadError
    except ImportError as exc:  # pragma: no cover - requirements.txt installs it
        raise DocumentError("reading PDFs needs pypdf: pip install pypdf") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentError("PDF 已加密（需要密码） / encrypted PDF (password required)")
            except (NotImplementedError, PdfReadError) as exc:
                raise DocumentError("PDF 已加密（需要密码） / encrypted PDF (password required)") from exc
        pages, starts, pos = [], [], 0
        for page in reader.pages:
            content = (page.extract_text() or "").strip()
            starts.append(pos)
            pages.append(content + "\n\n")
            pos += len(pages[-1])
            if pos > limits.text_chars:
                raise too_much_text(limits)
    except DocumentError:
        raise
    except LimitReachedError as exc:  # pypdf's own bounds on streams (decompression bombs)
        raise DocumentError(f"PDF 超出安全上限，已拒绝 / the PDF exceeds a safety limit ({exc})") from exc
    except Exception as exc:  # pypdf raises many types on damaged files
        raise DocumentError(f"PDF 已损坏或无法读取 / damaged or unreadable PDF ({type(exc).__name__})") from exc
    scanned = [i for i, page in enumerate(pages) if len(re.sub(r"\s", "", page)) < OCR_BELOW]
    if scanned:
        return _with_scanned_pages(data, [p.strip() for p in pages], scanned, limits, Extracted("".join(pages), tuple(starts)))
    return Extracted("".join(pages), tuple(starts))


def _with_scanned_pages(data: bytes, texts: list[str], candidates: list[int], limits: Limits, text_layer: Extracted) -> Extracted:
    """The text of a PDF some of whose pages are scans: those that show an image are recognised,
    the others keep their text layer (empty for a blank page). When PDFium cannot open the file,
    its text layer alone (`text_layer`) is kept if it has any."""
    from rag.ingest.formats.ocr import PageSource, pages_text, pdf_document, pdf_page, pdf_page_is_scan

    try:
        pdf = pdf_document(data)
    except DocumentError:
        if text_layer.text.strip():
            return text_layer
        raise
    try:
        items: list[str | PageSource] = list(texts)
        for i in candidates:
            if pdf_page_is_scan(pdf, i):
                items[i] = pdf_page(pdf, i)
        if all(isinstance(item, str) for item in items) and not "".join(texts).strip():
            raise DocumentError("PDF 没有文字层，也没有可识别的图像 / PDF has neither a text layer nor scanned images")
        return pages_text(items, len(items), limits)
    finally:
        pdf.close()


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """A PDF's text, once its header says it is one (a renamed file is refused before pypdf sees it)."""
    if not data.startswith(b"%PDF"):
        raise DocumentError("不是 PDF 文件（缺少 %PDF 文件头） / not a PDF file (no %PDF header)")
    return pdf_text(data, limits)
