"""PDFs: the text layer of each page, and where each page starts so citations can name the page.

pypdf reads them; its own bounds on streams refuse decompression bombs, and the text-length limit
is checked page by page so that a huge document stops early. A PDF without a text layer (a scan)
is refused with the reason rather than indexed empty.
"""

from __future__ import annotations

import io

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats.base import Decode, Extracted, too_much_text

SUFFIXES = (".pdf",)


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
    text = "".join(pages)
    if not text.strip():
        raise DocumentError("PDF 没有文字层（扫描件？不支持 OCR） / PDF has no text layer (scanned? OCR is not supported)")
    return Extracted(text, tuple(starts))


def read(data: bytes, suffix: str, decode: Decode, limits: Limits) -> Extracted:
    """A PDF's text, once its header says it is one (a renamed file is refused before pypdf sees it)."""
    if not data.startswith(b"%PDF"):
        raise DocumentError("不是 PDF 文件（缺少 %PDF 文件头） / not a PDF file (no %PDF header)")
    return pdf_text(data, limits)
