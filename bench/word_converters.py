"""Which converter reads legacy Word, WPS and RTF files best: the comparison behind `word.py`.

    python bench/word_converters.py [--data ../shared/data/office]

On the real .doc/.wps/.rtf files, each candidate that is installed: LibreOffice to XHTML read by
`word.py` (the product's path), LibreOffice to .docx read by `docx.py`, LibreOffice to plain text,
antiword, catdoc, unrtf (Debian) and striprtf (PyPI, `pip install striprtf==0.0.35`; not a project
dependency). Per candidate: the probes it passes (Chinese text intact, automatic numbering such as
`第一条` kept, a table row's cells on one line) and seconds per file. A probe is a string or pattern
taken from the file as Word shows it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Limits  # noqa: E402
from rag.ingest.encoding import decode_bytes  # noqa: E402
from rag.ingest.formats import docx, soffice, word  # noqa: E402

# file → {probe kind: pattern that a line of the output must match}
PROBES: dict[str, dict[str, str]] = {
    "headings-table-header-footer.doc": {"text": "章节1.1的内容", "numbering": r"1\.1\.?\s*章节1\.1", "table": r"21.{0,6}22.{0,6}23"},
    "state-grid-material-data-rules.doc": {"text": "省管产业单位物料主数据监督管理办法", "numbering": "第一条", "table": "所属大类编码.*所属中类编码"},
    "qinghai-work-ticket-case.wps": {"text": "模型召回率100%"},
    "minimal.wps": {"text": "hahahahah"},
    "chaoyang-audit-rectification-gbk.rtf": {"text": r"审意字〔2017〕", "numbering": r"1、\s*问题描述"},
}


def _run(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, timeout=120).stdout.decode("utf-8", "replace")


def lo_xhtml(path: Path) -> str:
    return word.read(path.read_bytes(), path.suffix, decode_bytes, Limits()).text


def lo_docx(path: Path) -> str:
    converted = soffice.convert(path.read_bytes(), path.suffix if path.suffix != ".wps" else ".doc", "docx", max_bytes=1 << 30)
    return docx.docx_text(converted)


def lo_text(path: Path) -> str:
    converted = soffice.convert(path.read_bytes(), path.suffix if path.suffix != ".wps" else ".doc", "txt:Text (encoded):UTF8", max_bytes=1 << 30)
    return converted.decode("utf-8", "replace")


def antiword(path: Path) -> str:
    return _run(["antiword", "-m", "UTF-8.txt", "-w", "0", str(path)])


def catdoc(path: Path) -> str:
    return _run(["catdoc", "-d", "utf-8", "-w", str(path)])


def unrtf(path: Path) -> str:
    return _run(["unrtf", "--text", str(path)])


def striprtf(path: Path) -> str:
    from striprtf.striprtf import rtf_to_text

    raw = path.read_bytes().decode("latin-1")
    page = re.search(r"\\ansicpg(\d+)", raw)
    return rtf_to_text(raw, encoding=f"cp{page.group(1)}" if page else "cp1252", errors="replace")


ALL, WORD, RTF = (".doc", ".wps", ".rtf"), (".doc", ".wps"), (".rtf",)
# name → (converter, what must be installed, the suffixes it is scored on)
CANDIDATES: dict[str, tuple[Callable[[Path], str], str, tuple[str, ...]]] = {
    "LibreOffice → XHTML → word.py (chosen)": (lo_xhtml, "soffice", ALL),
    "LibreOffice → .docx → docx.py": (lo_docx, "soffice", ALL),
    "LibreOffice → plain text": (lo_text, "soffice", ALL),
    "antiword 0.37 (.doc/.wps)": (antiword, "antiword", WORD),
    "catdoc 0.95 (.doc/.wps)": (catdoc, "catdoc", WORD),
    "unrtf 0.21 (.rtf)": (unrtf, "unrtf", RTF),
    "striprtf 0.0.35 (.rtf)": (striprtf, "striprtf", RTF),
}


def installed(requirement: str) -> bool:
    if requirement == "striprtf":
        try:
            import striprtf  # noqa: F401
        except ImportError:
            return False
        return True
    return shutil.which(requirement) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "office"))
    args = parser.parse_args()
    files = [Path(args.data) / name for name in PROBES]
    print("| candidate | text intact | numbering kept | table rows | s/file |")
    print("|---|---|---|---|---|")
    for name, (convert, requirement, suffixes) in CANDIDATES.items():
        if not installed(requirement):
            print(f"| {name} | not installed | | | |")
            continue
        passed = {"text": [0, 0], "numbering": [0, 0], "table": [0, 0]}
        seconds: list[float] = []
        for path in (p for p in files if p.suffix in suffixes):
            began = time.perf_counter()
            try:
                out = convert(path)
            except Exception as exc:  # a candidate that fails on a file fails its probes
                out = f"error {type(exc).__name__}"
            seconds.append(time.perf_counter() - began)
            lines = [re.sub(r"\s+", " ", ln) for ln in out.splitlines()]
            for kind, pattern in PROBES[path.name].items():
                passed[kind][1] += 1
                passed[kind][0] += any(re.search(pattern, ln) for ln in lines)
        cells = [f"{a}/{b}" if b else "–" for a, b in passed.values()]
        speed = f"{sum(seconds) / len(seconds):.2f}" if seconds else "–"
        print(f"| {name} | {' | '.join(cells)} | {speed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
