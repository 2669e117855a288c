"""A knowledge base's FAQ: curated question–answer pairs (12345 hotline FAQs, 政策问答 lists) that
answer a question close enough to theirs, cited as the FAQ entry, before any extraction.

store (entries in `<index_dir>/faq/entries.json`, each with its 相似问题) → importer (.csv .xlsx .xls)
→ match (semantic + lexical, measured thresholds: answer, or suggest as 您是否想问) → book (what the assistant consults; an FAQ answer and its citation);
cli (`rag faq …`). docs/faq.md has the file format and the measurements.
"""

from rag.faq.book import FaqBook, faq_answer, faq_id, suggestions
from rag.faq.importer import import_file, read_pairs
from rag.faq.match import ANSWER_WEIGHT, LEXICAL_WEIGHT, SUGGEST_THRESHOLD, THRESHOLD, FaqLookup, FaqMatch, Weights
from rag.faq.store import FAQ_KIND, FaqEntry, FaqError, FaqStore, ImportReport, Pair, split_phrasings

__all__ = [
    "ANSWER_WEIGHT",
    "FAQ_KIND",
    "LEXICAL_WEIGHT",
    "SUGGEST_THRESHOLD",
    "THRESHOLD",
    "FaqBook",
    "FaqEntry",
    "FaqError",
    "FaqLookup",
    "FaqMatch",
    "FaqStore",
    "ImportReport",
    "Pair",
    "Weights",
    "faq_answer",
    "faq_id",
    "import_file",
    "read_pairs",
    "split_phrasings",
    "suggestions",
]
