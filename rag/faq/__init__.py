"""A knowledge base's FAQ: curated question–answer pairs (12345 hotline FAQs, 政策问答 lists) that
answer a question close enough to theirs, cited as the FAQ entry, before any extraction.

store (entries in `<index_dir>/faq/entries.json`) → importer (.csv .xlsx .xls) → match (semantic +
lexical, measured threshold) → book (what the assistant consults; an FAQ answer and its citation);
cli (`rag faq …`). docs/faq.md has the file format and the measurements.
"""

from rag.faq.book import FaqBook, faq_answer, faq_id
from rag.faq.importer import import_file, read_pairs
from rag.faq.match import ANSWER_WEIGHT, LEXICAL_WEIGHT, THRESHOLD, FaqMatch, Weights
from rag.faq.store import FAQ_KIND, FaqEntry, FaqError, FaqStore, ImportReport, Pair

__all__ = [
    "ANSWER_WEIGHT",
    "FAQ_KIND",
    "LEXICAL_WEIGHT",
    "THRESHOLD",
    "FaqBook",
    "FaqEntry",
    "FaqError",
    "FaqMatch",
    "FaqStore",
    "ImportReport",
    "Pair",
    "Weights",
    "faq_answer",
    "faq_id",
    "import_file",
    "read_pairs",
]
