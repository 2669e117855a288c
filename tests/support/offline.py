"""Run Python in a new process that cannot download anything: a fresh cache, the Hugging Face hub
offline, every proxy pointing at a closed port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def offline_env(cache: Path, **extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        RAG_CACHE_DIR=str(cache),
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        HF_HOME=str(cache / "hf"),
        **extra,
    )


def run_offline(code: str, cache: Path, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
    """`python -c code` from the repository root, offline, with `cache` as RAG_CACHE_DIR."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=offline_env(cache, **extra), capture_output=True, text=True, timeout=timeout)
