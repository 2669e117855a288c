"""LibreOffice run headless as a file converter, for the formats read through it (`word.py`).

One conversion is one `soffice --convert-to` process: no shell, the file in a private temporary
folder with a private user profile (so conversions can run side by side and leave nothing behind),
in a process group of its own that is killed whole when it runs past `TIMEOUT_S` (soffice starts
`soffice.bin` as a child; killing only the parent would leave a hung converter). When the program
is missing the file is refused with one line that says what to install; the Makefile's `office`
target installs Debian's `libreoffice-writer-nogui` (`make test` and `make run` depend on it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from rag.errors import DocumentError

PROGRAM = "soffice"  # looked up on PATH (Debian: /usr/bin/soffice)
TIMEOUT_S = 120.0  # a normal conversion takes about a second (docs/benchmarks.md)
INSTALL_HINT = "make office，或 apt-get install libreoffice-writer-nogui"


def missing_program(suffix: str) -> DocumentError:
    return DocumentError(f"读取 {suffix} 需要 LibreOffice（未找到 {PROGRAM}；{INSTALL_HINT}） / reading {suffix} needs LibreOffice ({PROGRAM} not found)")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the converter and every process it started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def convert(data: bytes, suffix: str, target: str, max_bytes: int, timeout: float | None = None) -> bytes:
    """The bytes of `data` (a file with `suffix`, which picks LibreOffice's import filter) converted
    to `target` (a `--convert-to` argument such as `html:XHTML Writer File:UTF8`). DocumentError when
    the program is missing, runs past the timeout, fails, or writes more than `max_bytes`."""
    program = shutil.which(PROGRAM)
    if program is None:
        raise missing_program(suffix)
    timeout = TIMEOUT_S if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix="rag-soffice-") as tmp:
        folder = Path(tmp)
        source, out = folder / f"document{suffix}", folder / "out"
        source.write_bytes(data)
        command = [
            program,
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--nodefault",
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--convert-to",
            target,
            "--outdir",
            str(out),
            str(source),
        ]
        try:
            # its own temporary files go into the folder too, so a killed converter leaves nothing
            env = dict(os.environ, TMPDIR=str(folder))
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        except OSError as exc:
            raise DocumentError(f"无法启动 LibreOffice / cannot start {PROGRAM}: {exc.strerror or exc}") from exc
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise DocumentError(f"转换超时：LibreOffice 超过 {timeout:g} 秒未完成，已终止 / the converter ran over {timeout:g} s and was stopped") from None
        finally:
            _kill_group(proc)  # nothing it started outlives the conversion
        produced = sorted(out.glob("*")) if out.is_dir() else []
        if proc.returncode != 0 or not produced:
            said = [ln.strip() for ln in log.decode("utf-8", "replace").splitlines() if ln.strip() and "javaldx" not in ln]
            reason = said[-1] if said else f"exit status {proc.returncode}"
            raise DocumentError(f"{suffix} 已损坏或无法读取 / damaged or unreadable {suffix} (LibreOffice: {reason})")
        size = produced[0].stat().st_size
        if size > max_bytes:
            raise DocumentError(f"转换结果过大：{size:,} 字节，上限 {max_bytes:,}（RAG_MAX_UNPACKED_MB） / converted file exceeds {max_bytes:,} bytes")
        return produced[0].read_bytes()
