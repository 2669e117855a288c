"""What a highlight box on a rendered PDF page should be: PDFium's own character boxes of a
sentence, scaled to the image's width (origin top left, as the page image's `data-boxes`)."""

from __future__ import annotations


def expected_pixel_boxes(pdf_bytes: bytes, page_index: int, sentence: str, image_width: int) -> list[list[float]]:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf_bytes)
    try:
        page = document[page_index]
        width_pt, height_pt = page.get_size()
        scale = image_width / width_pt
        textpage = page.get_textpage()
        at, count = textpage.search(sentence).get_next()
        expected = []
        for i in range(at, at + count):
            left, bottom, right, top = textpage.get_charbox(i, loose=True)
            expected.append([left * scale, (height_pt - top) * scale, right * scale, (height_pt - bottom) * scale])
        return expected
    finally:
        document.close()


def assert_boxes_match(boxes: list, expected: list, sentence: str) -> None:
    """One box per character, each coordinate within 1 px."""
    assert len(boxes) == len(expected) == len(sentence), (boxes, expected)
    assert all(abs(a - b) <= 1 for got, want in zip(boxes, expected, strict=True) for a, b in zip(got, want, strict=True)), (boxes, expected)
