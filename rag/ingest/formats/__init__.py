"""Text out of the file formats people bring, one module per format family behind one `extract()`.

Each family's module names its suffixes (`SUFFIXES`) and reads its files (`read`, a `base.Reader`):
`text` (plain text, Markdown), `html` (saved web pages, main text only), `pdf` (scanned pages by
OCR), `docx` (with the zip-bomb check), `image` (scans and photographed pages, by OCR), `ofd`
(fixed-layout pages put back in reading order by `page_layout`), `sheets` (.xlsx .xls .csv), `slides`
(.pptx). `extract` picks the reader by suffix. A new format is one new module plus one line
in `READERS`; `SUPPORTED_SUFFIXES` and the "unsupported type" message follow from the table.

Every reader returns the text that becomes `Document.text` (all offsets refer to it) and, for PDFs,
where each page starts. Tables become one line per row in which every cell keeps its column header
(`项目：免申即享；数量：两批`).
"""

from __future__ import annotations

from rag.config import Limits
from rag.errors import DocumentError
from rag.ingest.formats import docx, html, image, ofd, pdf, sheets, slides, text, word
from rag.ingest.formats.base import Decode, Extracted, Reader

__all__ = ["SUPPORTED_SUFFIXES", "Extracted", "extract", "unsupported_type", "unsupported_upload"]

# suffix → reader, in the order the messages list the suffixes
READERS: dict[str, Reader] = {
    **dict.fromkeys(text.SUFFIXES, text.read),
    **dict.fromkeys(html.SUFFIXES, html.read),
    **dict.fromkeys(pdf.SUFFIXES, pdf.read),
    **dict.fromkeys(docx.SUFFIXES, docx.read),
    **dict.fromkeys(word.SUFFIXES, word.read),  # .doc .wps .rtf through LibreOffice
    **dict.fromkeys(image.SUFFIXES, image.read),
    **dict.fromkeys(ofd.SUFFIXES, ofd.read),  # OFD (GB/T 33190), page by page
    **dict.fromkeys(sheets.SUFFIXES, sheets.read),  # .xlsx .xls .csv: a record per row
    **dict.fromkeys(slides.SUFFIXES, slides.read),  # .pptx: a heading per slide
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(READERS)


def unsupported_type(suffix: str) -> DocumentError:
    """The one refusal of a file type no reader reads (loading and extracting both give it)."""
    return DocumentError(f"不支持的文件类型“{suffix}”（支持 {' '.join(SUPPORTED_SUFFIXES)}） / unsupported file type")


def unsupported_upload(name: str) -> str:
    """The same refusal as the upload page lists it, one line per file: the file's name first."""
    return f"{name}: 不支持的文件类型（支持 {', '.join(SUPPORTED_SUFFIXES)}）"


def extract(data: bytes, suffix: str, decode: Decode, limits: Limits = Limits()) -> Extracted:
    """Text of a file's bytes, by its suffix; `decode` turns bytes into str for text formats."""
    suffix = suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise unsupported_type(suffix)
    return reader(data, suffix, decode, limits)
