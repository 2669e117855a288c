"""Peak memory and time while refusing decompression bombs (issue 16, defect 2).

    python bench/bombs.py

Each case runs in a fresh subprocess, so its peak RSS (ru_maxrss) is its own: a .docx whose
document.xml unpacks to 150 MB (461 KB on disk, as in the issue), a PDF whose one page's content
stream inflates to 200 MB, and a 40 MB plain-text file over a 1 M character limit. Prints one
line per case: size on disk, outcome, seconds, peak RSS, and the same for a small real file.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import resource, sys, time
sys.path.insert(0, {root!r})
from rag.errors import DocumentError
from rag.config import Limits
from rag.ingest.load import document_from_bytes
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
data = open({path!r}, "rb").read()
limits = Limits(text_chars={chars}) if {chars} else Limits()
start = time.perf_counter()
try:
    doc = document_from_bytes(data, {name!r}, suffix={suffix!r}, limits=limits)
    outcome = f"read ({{len(doc.text):,}} chars)"
except DocumentError as exc:
    outcome = "refused: " + str(exc)[:70]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{time.perf_counter() - start:.2f}}\t{{peak:.0f}} (+{{peak - before:.0f}})\t{{outcome}}")
"""


def docx_bomb(xml_mb: int) -> bytes:
    import zipfile

    import docx

    d = docx.Document()
    d.add_paragraph("各有关单位要及时支付中小企业款项。")
    buf = io.BytesIO()
    d.save(buf)
    source = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                para = "<w:p><w:r><w:t>炸弹炸弹炸弹炸弹</w:t></w:r></w:p>".encode()
                head, tail = data.split(b"</w:body>")
                data = head + para * (xml_mb * 1024 * 1024 // len(para)) + b"</w:body>" + tail
            target.writestr(item, data)
    return out.getvalue()


def pdf_bomb(inflated_mb: int) -> bytes:
    stream = zlib.compress(b"BT /F1 12 Tf 72 720 Td (x) Tj ET\n" + b" " * (inflated_mb * 1024 * 1024), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def main() -> int:
    out = ROOT / "bench" / "out" / "bombs"
    out.mkdir(parents=True, exist_ok=True)
    cases = [
        ("small.docx", docx_bomb(0), 0),
        ("bomb-150mb.docx", docx_bomb(150), 0),
        ("bomb-200mb.pdf", pdf_bomb(200), 0),
        ("long-40mb.txt", ("各地要落实免申即享政策。" * (40 * 1024 * 1024 // 36)).encode(), 1_000_000),
    ]
    print("file\ton disk\tseconds\tpeak RSS MB (+ over the imports)\toutcome")
    for name, data, chars in cases:
        path = out / name
        path.write_bytes(data)
        code = CHILD.format(root=str(ROOT), path=str(path), name=name, suffix=path.suffix, chars=chars)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = done.stdout.strip() or "crashed: " + done.stderr.strip()[-200:]
        print(f"{name}\t{len(data) / 1024:,.0f} KB\t{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
