"""Readers: from a question and its passages to a cited answer.

base.py (what a reader is), question.py (what a question asks), compose.py (quotes, citations,
refusal: what both readers share); rules/ (the hand-written reader), model/ (the trained one, the
default). `open_reader` picks one from the settings.
"""

from __future__ import annotations

import logging

from rag.read.base import Reader

log = logging.getLogger(__name__)
_warned: set[str] = set()

__all__ = ["Reader", "open_reader"]


def open_reader(settings, documents, rules) -> tuple[Reader, str]:
    """The reader the settings ask for, and "" — or the rule reader `rules` and one sentence saying
    why the trained one could not be used (also logged once per process)."""
    if settings.reader == "rules":
        return rules, ""
    from rag.embedding.build import ensure_built
    from rag.read.model.reader import ReaderSettings, open_model_reader
    from rag.read.model.weights import ReaderUnavailable

    try:
        reader_settings = ReaderSettings(
            min_margin=settings.reader_min_margin, support_weight=settings.reader_support_weight, passage_weight=settings.reader_passage_weight
        )
        reader = open_model_reader(documents, ensure_built(settings.cache_dir), reader_settings, weights_dir=settings.reader_weights, rules=rules)
    except (ReaderUnavailable, OSError, KeyError, ValueError, RuntimeError, ImportError) as exc:
        reason = str(exc) if isinstance(exc, ReaderUnavailable) else f"{type(exc).__name__}: {exc}"
        status = f"trained reader unavailable, answering with the rule reader: {reason}"
        if status not in _warned:
            _warned.add(status)
            log.warning(status)
        return rules, status
    return reader, ""
