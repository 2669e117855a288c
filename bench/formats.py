"""Document formats: how well and how fast each new format is read.

    python bench/formats.py [ocr] [word] [ofd] [sheets] [--threads 2] [--tesseract]

`ocr` (`ocr_accuracy`): pages of real government text (the seed reply, the 2025 State Council work
report and a 2026 provincial report from ../shared/data/gov_reports/) typeset at 200 dpi like a
document, then scanned (a rotation of up to 2°, speckle, grey paper, JPEG at quality 75) or
photographed (perspective, blur, light falling off across the page, JPEG); each page through the
OCR pipeline (RapidOCR + reading order + paragraphs, as indexing runs it) and, with --tesseract,
Debian's Tesseract 5 with chi_sim on the same images. Prints character accuracy (1 − CER: edit
distance over the drawn text, whitespace removed and both sides NFKC-normalised, so a full-width
comma and its half-width twin count alike), pages per minute, the peak RSS, and the real scanned
spread in ../shared/data/office/ (text length and a sample). Targets (issue 34): ≥ 98 % scanned,
≥ 95 % photographed.

`word` (`word_files`): the real .doc, .wps and .rtf files in ../shared/data/office/ read through
LibreOffice (characters, seconds per file, the reason for a refusal), indexed, and one question per
file written from its text: right when the first citation is that file and the answer holds the
expected words.

`ofd`, `sheets` (`read_index_and_ask`): the same for the five real OFD files in ../shared/data/ofd/
and the .xlsx and .xls in ../shared/data/office/.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one row at a time."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def accuracy(truth: str, read: str) -> float:
    truth, read = _norm(truth), _norm(read)
    return 1 - edit_distance(truth, read) / max(len(truth), 1)


def _paragraphs(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def ocr_pages():
    """(name, image, drawn text) of the benchmark's pages."""
    from scans import photographed, scanned, typeset

    seed = _paragraphs(next((ROOT / "seeds").glob("*.txt")).read_text("utf-8"))
    seed = seed[: seed.index("(此件主动公开)") + 1]
    reports = [json.loads(line) for line in (DATA / "gov_reports" / "government_work_reports.jsonl").open(encoding="utf-8")]
    national = _paragraphs(next(r for r in reports if str(r["year"]) == "2025" and "政府工作报告" in r["title"])["content"])
    with (DATA / "gov_reports" / "provincial_2026" / "2026_福建省_政府工作报告.csv").open(encoding="utf-8") as f:
        provincial = _paragraphs(next(csv.DictReader(f))["full_text"])
    seed_pages = typeset(seed, points=12)
    national_pages = typeset(national[:40], points=16)  # 三号, the size of a 公文's body text
    provincial_pages = typeset(provincial[5:40], points=12)
    out = []
    for name, (image, text), degrees in (
        ("seed reply p1, 12 pt", seed_pages[0], 1.5),
        ("seed reply p2, 12 pt", seed_pages[1], -1.0),
        ("2025 national report p2, 16 pt", national_pages[1], 0.7),
        ("2026 Fujian report p2, 12 pt", provincial_pages[1], -2.0),
    ):
        out.append((f"scan: {name}, {degrees:+}°", scanned(image, degrees, seed=len(out)), text))
    image, text = national_pages[2]
    out.append(("photo: 2025 national report p3, 16 pt", photographed(image, seed=7), text))
    image, text = seed_pages[0]
    out.append(("photo: seed reply p1, 12 pt", photographed(image, seed=8), text))
    image, text = provincial_pages[2]
    out.append(("photo: Fujian report p3, 12 pt, twice as hard", photographed(image, seed=9, strength=2), text))
    return out


OCR_PROBES = [("office/scanned-standard-spread.png", "点支承玻璃面板支承孔边与板边的距离不宜小于多少?", "70mm")]


def _tesseract(image, threads: int) -> str:
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        image.save(f.name)
        env = dict(os.environ, OMP_THREAD_LIMIT=str(threads))
        run = subprocess.run(["tesseract", f.name, "stdout", "-l", "chi_sim", "--psm", "3"], capture_output=True, text=True, env=env, timeout=600)
        return run.stdout


def _ocr_memory(scans) -> None:
    """Peak RSS of a fresh process reading a scanned PDF of 1 and of 4 pages, as indexing reads it
    (pages are rendered and recognised one at a time, so more pages should not cost more)."""
    from scans import image_pdf

    code = (
        "import re, sys; sys.path.insert(0, sys.argv[1]); from rag.ingest.formats import extract; "
        "e = extract(open(sys.argv[2], 'rb').read(), '.pdf', bytes.decode); "
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
        "print(len(e.page_starts), len(e.text), int(hwm) // 1024)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1, 4):
            pdf = Path(tmp) / f"scan-{count}.pdf"
            pdf.write_bytes(image_pdf(scans[:count]))
            began = time.perf_counter()
            run = subprocess.run([sys.executable, "-c", code, str(ROOT), str(pdf)], capture_output=True, text=True, check=True)
            pages, chars, rss = run.stdout.split()
            took = time.perf_counter() - began
            print(f"a fresh process reading a scanned PDF of {pages} pages ({chars} characters): peak RSS {rss} MB, {took:.1f} s with start-up")


def ocr_accuracy(threads: int = 2, tesseract: bool = False) -> None:
    import numpy as np
    from PIL import Image

    from rag.ingest.formats.ocr.layout import read_page
    from rag.ingest.formats.ocr.rapid import RapidOcrEngine

    pages = ocr_pages()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine = RapidOcrEngine(threads=threads)
    engines = [("rapidocr 3.10 (PP-OCRv6 small)", lambda img: "\n".join(p.text for p in read_page(engine.recognise(np.asarray(img)))))]
    if tesseract and shutil.which("tesseract"):
        engines.append(("tesseract 5 chi_sim (Debian)", lambda img: _tesseract(img, threads)))
    print(f"{len(pages)} pages at 200 dpi, {threads} threads; accuracy = 1 − CER (whitespace removed, NFKC)")
    for name, recognise in engines:
        print(f"\n{name}")
        totals: dict[str, list[float]] = {"scan": [], "photo": []}
        seconds = 0.0
        for title, image, truth in pages:
            began = time.perf_counter()
            read = recognise(image)
            took = time.perf_counter() - began
            seconds += took
            acc = accuracy(truth, read)
            totals[title.split(":")[0]].append(acc)
            print(f"  {title:48s} {len(_norm(truth)):5d} chars  accuracy {acc:7.2%}  {took:5.1f} s")
        for kind, accs in totals.items():
            print(f"  mean accuracy, {kind}: {sum(accs) / len(accs):.2%} ({len(accs)} pages)")
        print(f"  speed: {len(pages) / seconds * 60:.1f} pages/min")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak:.0f} MB (before loading the OCR engine, with the pages made: {rss_before:.0f} MB)")
    _ocr_memory([image for title, image, _ in pages if title.startswith("scan")])

    spread = DATA / "office" / "scanned-standard-spread.png"
    if spread.exists():
        from rag.ingest.formats import extract

        began = time.perf_counter()
        got = extract(spread.read_bytes(), ".png", lambda b: b.decode())
        size = Image.open(io.BytesIO(spread.read_bytes())).size
        took, lines = time.perf_counter() - began, len(got.line_boxes)
        print(f"\nreal scanned spread ({spread.name}, {size[0]}×{size[1]} px): {len(got.text)} characters, {lines} lines in {took:.1f} s")
        print("  " + got.text[:400].replace("\n", "\n  "))
        read_index_and_ask("scan", OCR_PROBES)


WORD_PROBES = [  # (file under office/, a question written from its text, words the answer must hold)
    ("headings-table-header-footer.doc", "章节1.2下面是什么?", "表格3x3"),
    ("state-grid-material-data-rules.doc", "新增主数据需求是否合理的判断依据是什么?", "国家标准"),
    ("saved-by-wps-with-attachments.doc", "", ""),  # attachments only, each holding a placeholder word
    ("minimal.wps", "", ""),
    ("qinghai-work-ticket-case.wps", "工作票解析模型的识别准确率达到多少?", "80%"),
    ("chaoyang-audit-rectification-gbk.rtf", "截至2017年7月31日已整改到位的问题有几个?", "2个"),
]


def word_files() -> None:
    """`word`: the real .doc/.wps/.rtf files read (through LibreOffice), indexed and asked about."""
    read_index_and_ask("word", [(f"office/{name}", question, expected) for name, question, expected in WORD_PROBES])


OFD_PROBES = [  # (file under ../shared/data, a question written from its text, words the answer must hold)
    ("ofd/luqiao-health-bureau-reply.ofd", "张阿三是哪一年出生的?", "1978年"),
    ("ofd/essay-page.ofd", "尼采自诩过他是什么?", "太阳"),
    ("ofd/customs-digital-archives.ofd", "海关数字档案室建设由谁担任领导小组组长?", "署领导"),
    ("ofd/e-invoice.ofd", "价税合计是多少?", "318.00"),
    ("ofd/property-certificate.ofd", "担保债权数额是多少?", "35万元"),
]
SHEET_PROBES = [
    ("office/taizhou-deposits-loans-2019.xlsx", "7月份本外币各项存款是多少亿元?", "6960.0815"),
    ("office/statistics-tables-traditional.xls", "ISDN BRA北分的使用率是多少?", "使用率"),
]


def read_index_and_ask(label: str, probes: list[tuple[str, str, str]]) -> None:
    """Each real file read (characters, seconds, the reason for a refusal), the readable ones
    indexed with the default settings and one question asked per file: right when the first
    citation is that file and the answer holds the expected words."""
    from dataclasses import replace

    from rag import Assistant, Settings, build_index
    from rag.embedding import Embedder
    from rag.errors import DocumentError
    from rag.ingest.load import load_document

    right = asked = 0
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        for file, _, _ in probes:
            path, began = DATA / file, time.perf_counter()
            try:
                doc = load_document(path, path.name)
                said = f"{len(doc.text):,} characters, {len(doc.page_starts)} pages, title {doc.title!r}"
                shutil.copy(path, docs / path.name)
            except DocumentError as exc:
                said = f"refused: {exc}"
            print(f"{path.name}: {time.perf_counter() - began:.3f} s, {said}")
        settings = replace(Settings.from_env(), index_dir=Path(tmp) / "index")
        embedder = Embedder.from_settings(settings, None)
        print(f"index: {build_index([docs], settings, embedder).summary()}")
        assistant = Assistant(settings, embedder=embedder)
        for file, question, expected in probes:
            name = Path(file).name
            if not question or not (docs / name).is_file():
                continue
            answer = assistant.ask(question)
            cited = answer.citations[0].doc_id if answer.citations else None
            ok = not answer.refused and cited == name and expected in answer.text
            right, asked = right + ok, asked + 1
            print(f"{'RIGHT' if ok else 'WRONG'} {name}: {question} → {answer.text.splitlines()[0][:150]} (cited {cited})")
    print(f"{label}: {right}/{asked} answered from the right file")


def ofd_files() -> None:
    """`ofd`: the five real OFD files in ../shared/data/ofd/ (rag/ingest/formats/ofd.py)."""
    read_index_and_ask("ofd", OFD_PROBES)


def sheet_files() -> None:
    """`sheets`: the real .xlsx (written by WPS 表格) and .xls (traditional, 23 sheets) in ../shared/data/office/."""
    read_index_and_ask("sheets", SHEET_PROBES)


BENCHMARKS = {"ocr": ocr_accuracy, "word": word_files, "ofd": ofd_files, "sheets": sheet_files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", default=["ocr"], choices=sorted(BENCHMARKS))
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime / Tesseract threads")
    parser.add_argument("--tesseract", action="store_true", help="ocr: compare with Debian's tesseract-ocr + tesseract-ocr-chi-sim")
    args = parser.parse_args()
    for name in args.which:
        if name == "ocr":
            ocr_accuracy(args.threads, args.tesseract)
        else:
            BENCHMARKS[name]()


if __name__ == "__main__":
    main()
