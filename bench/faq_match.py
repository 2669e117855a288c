"""How well an FAQ entry is matched: precision, recall and false matches of rag/faq's matcher, and
the choice of its semantic weight and threshold.

    python bench/faq_match.py            # the shipped weight and threshold, both halves
    python bench/faq_match.py --choose   # also choose them on the calibration half (the rule below)

Data: bench/data/faq_match.jsonl, written for this: 62 FAQ questions in the style of 12345 hotline and
政策问答 lists (a few from the seed reply), two citizen's paraphrases each (a few in traditional
script), and negatives that must not match: near misses (same words, another question; another
place or year) and unrelated questions. All 62 entries are in the FAQ; the queries are split in
two halves: the paraphrases of odd-numbered entries, their near misses and every other unrelated
question calibrate, the rest report.

Counted per query: a paraphrase matched to its own entry is a hit; matched to another entry, a
wrong match; a negative matched to any entry, a false match. Precision = hits / all matches,
recall = hits / paraphrases, false-match rate = false matches / negatives.

The rule that chooses (answer weight, lexical weight, threshold) on the calibration half: a wrong
FAQ answer replaces a cited extraction, a missed one only falls back to it, so the highest recall
with no negative falsely matched and precision at least 95 %; ties go to the
higher threshold.

Suggestions (您是否想问: up to MAX_SUGGESTIONS agreeing entries at or above the suggestion threshold
when none matches): a paraphrase is helped when its entry is matched or among them; a negative is
shown a suggestion when any is offered. The suggestion threshold (--choose) is the one helping the
most calibration paraphrases with at most MAX_SUGGEST_RATE of the calibration negatives shown one
(a wrong suggestion costs a glance, not a wrong answer); ties go to the higher threshold.

    python bench/faq_match.py --similar  # also: each entry given its first paraphrase as 相似问题,
                                         # the second paraphrases asked (report half)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.faq import FaqBook, FaqStore, Pair, Weights  # noqa: E402
from rag.faq.match import MAX_SUGGESTIONS  # noqa: E402

DATA = ROOT / "bench" / "data" / "faq_match.jsonl"
MAX_FALSE_RATE, MIN_PRECISION = 0.0, 0.95
# the suggestion threshold: the most paraphrases answered or offered their entry (您是否想问, at most
# MAX_SUGGESTIONS) with at most this share of the negatives shown any suggestion (calibration half)
MAX_SUGGEST_RATE = 0.25


@dataclass(frozen=True)
class Query:
    text: str
    expected: int | None  # the entry it must match; None: it must match none
    half: str  # "calibration" or "report"
    near: bool = False  # a near miss of an entry (else a paraphrase or an unrelated question)


@dataclass(frozen=True)
class Scored:
    query: Query
    ids: np.ndarray  # entry ids
    question_cos: np.ndarray
    answer_cos: np.ndarray
    lexical: np.ndarray
    agree: np.ndarray  # places and years agree


def load() -> tuple[list[dict], list[Query]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    faqs = [r for r in rows if r["kind"] == "faq"]
    queries = []
    for r in faqs:
        half = "calibration" if r["id"] % 2 else "report"
        queries += [Query(p, r["id"], half) for p in r["paraphrases"]]
        queries += [Query(n, None, half, near=True) for n in r["near_misses"]]
    unrelated = [r["question"] for r in rows if r["kind"] == "unrelated"]
    queries += [Query(q, None, "calibration" if i % 2 == 0 else "report") for i, q in enumerate(unrelated)]
    return faqs, queries


def score_all(book: FaqBook, queries: list[Query]) -> list[Scored]:
    out = []
    for q in queries:
        ranked = sorted(book.ranked(q.text), key=lambda m: m.entry.id)
        out.append(
            Scored(
                q,
                np.array([m.entry.id for m in ranked]),
                np.array([m.question_cos for m in ranked]),
                np.array([m.answer_cos for m in ranked]),
                np.array([m.lexical for m in ranked]),
                np.array([m.names_agree for m in ranked]),
            )
        )
    return out


def matched(s: Scored, weights: Weights) -> tuple[int | None, int, float]:
    """(the entry matched or None, the best agreeing entry, its score)."""
    score = np.where(s.agree, weights.score(s.question_cos, s.answer_cos, s.lexical), -np.inf)
    best = int(np.argmax(score))
    return (int(s.ids[best]) if score[best] >= weights.threshold else None), int(s.ids[best]), float(score[best])


def figures(scored: list[Scored], weights: Weights) -> dict:
    hits = wrong = false = positives = negatives = 0
    for s in scored:
        matched_id = matched(s, weights)[0]
        if s.query.expected is None:
            negatives += 1
            false += matched_id is not None
        else:
            positives += 1
            hits += matched_id == s.query.expected
            wrong += matched_id is not None and matched_id != s.query.expected
    matches = hits + wrong + false
    return {
        "precision": hits / matches if matches else 1.0,
        "recall": hits / positives if positives else 0.0,
        "false_rate": false / negatives if negatives else 0.0,
        "hits": hits,
        "wrong": wrong,
        "false": false,
        "positives": positives,
        "negatives": negatives,
    }


THRESHOLDS = np.round(np.arange(0.80, 1.0001, 0.0025), 4)


def choose(
    scored: list[Scored], answer_weights=np.round(np.arange(0.0, 1.0001, 0.1), 2), lexical_weights=np.round(np.arange(0.0, 0.5001, 0.1), 2)
) -> tuple[Weights, dict]:
    """The weights and threshold the rule picks (module docstring)."""
    best: tuple[Weights, dict] | None = None
    for answer in answer_weights:
        for lexical in lexical_weights:
            for threshold in THRESHOLDS:
                weights = Weights(float(answer), float(lexical), float(threshold))
                f = figures(scored, weights)
                if f["false_rate"] > MAX_FALSE_RATE or f["precision"] < MIN_PRECISION:
                    continue
                if best is None or (f["recall"], threshold) > (best[1]["recall"], best[0].threshold):
                    best = (weights, f)
    if best is None:
        raise SystemExit("no weights and threshold meet the rule on the calibration half")
    return best


def suggested(s: Scored, weights: Weights) -> list[int]:
    """The entries offered as 您是否想问 (rag/faq/match.FaqIndex.lookup): none when one matched."""
    score = np.where(s.agree, weights.score(s.question_cos, s.answer_cos, s.lexical), -np.inf)
    order = np.argsort(-score, kind="stable")[:MAX_SUGGESTIONS]
    if score[order[0]] >= weights.threshold:
        return []
    return [int(s.ids[i]) for i in order if score[i] >= weights.suggest]


def suggestion_figures(scored: list[Scored], weights: Weights) -> dict:
    """Paraphrases whose entry is matched or suggested; negatives shown any suggestion (not matched)."""
    helped = in_suggestions = positives = shown = negatives = near_shown = near = 0
    for s in scored:
        offered = suggested(s, weights)
        if s.query.expected is None:
            negatives += 1
            shown += bool(offered)
            near += s.query.near
            near_shown += bool(offered) and s.query.near
        else:
            positives += 1
            in_suggestions += s.query.expected in offered
            helped += s.query.expected in offered or matched(s, weights)[0] == s.query.expected
    return {
        "helped": helped,
        "in_suggestions": in_suggestions,
        "positives": positives,
        "coverage": helped / positives if positives else 0.0,
        "shown": shown,
        "near_shown": near_shown,
        "near": near,
        "negatives": negatives,
        "shown_rate": shown / negatives if negatives else 0.0,
    }


SUGGEST_THRESHOLDS = np.round(np.arange(0.80, 0.9551, 0.0025), 4)


def choose_suggest(scored: list[Scored], weights: Weights) -> tuple[Weights, dict]:
    """The suggestion threshold the rule picks (SUGGEST_RULE), the answer weights kept."""
    best: tuple[Weights, dict] | None = None
    for threshold in SUGGEST_THRESHOLDS:
        if threshold > weights.threshold:
            continue
        w = replace(weights, suggest=float(threshold))
        f = suggestion_figures(scored, w)
        if f["shown_rate"] > MAX_SUGGEST_RATE:
            continue
        if best is None or (f["coverage"], threshold) > (best[1]["coverage"], best[0].suggest):
            best = (w, f)
    if best is None:
        raise SystemExit("no suggestion threshold meets the rule on the calibration half")
    return best


def suggestion_line(name: str, f: dict) -> str:
    return (
        f"{name:<12} entry answered or suggested {f['coverage']:.3f} ({f['helped']}/{f['positives']}; in the suggestions {f['in_suggestions']})  "
        f"negatives shown a suggestion {f['shown_rate']:.3f} ({f['shown']}/{f['negatives']}; near misses {f['near_shown']}/{f['near']})"
    )


def line(name: str, f: dict) -> str:
    return (
        f"{name:<12} precision {f['precision']:.3f}  recall {f['recall']:.3f} ({f['hits']}/{f['positives']})  "
        f"wrong entry {f['wrong']}  false matches {f['false_rate']:.3f} ({f['false']}/{f['negatives']})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--choose", action="store_true", help="choose the weight and threshold on the calibration half")
    parser.add_argument("--show-errors", action="store_true", help="list the report half's misses, false matches and negatives shown a suggestion")
    parser.add_argument("--similar", action="store_true", help="also: each entry given its first paraphrase as 相似问题, the second paraphrases asked")
    args = parser.parse_args()
    faqs, queries = load()
    settings = Settings.from_env()
    embedder = Embedder.from_settings(settings, None)
    scored = score_with(embedder, faqs, queries, similar=False)
    positives = sum(q.expected is not None for q in queries)
    print(f"{len(faqs)} FAQ entries; {positives} paraphrases, {len(queries) - positives} negatives; embedder {embedder.info.backend}")
    weights = Weights()
    halves = {h: [s for s in scored if s.query.half == h] for h in ("calibration", "report")}
    if args.choose:
        weights, _ = choose(halves["calibration"])
        print(f"chosen on the calibration half: answer weight {weights.answer}, lexical weight {weights.lexical}, threshold {weights.threshold}")
        # each signal alone, its threshold chosen by the same rule
        for name, answer, lexical in (("question cosine alone", [0.0], [0.0]), ("answer cosine alone", [1.0], [0.0]), ("lexical alone", [0.0], [1.0])):
            try:
                alone, _ = choose(halves["calibration"], answer, lexical)
                print(f"  {name:<22} threshold {alone.threshold}: " + line("report", figures(halves["report"], alone)))
            except SystemExit:
                print(f"  {name:<22} no threshold meets the rule on the calibration half")
    else:
        print(f"shipped (rag/faq/match.py): answer weight {weights.answer}, lexical weight {weights.lexical}, threshold {weights.threshold}")
    for half, rows in halves.items():
        print(line(half, figures(rows, weights)))
        near = [s for s in rows if s.query.expected is None and s.query.near]
        far = [s for s in rows if s.query.expected is None and not s.query.near]
        print(f"{'':<12} false matches: near misses {figures(near, weights)['false']}/{len(near)}, unrelated {figures(far, weights)['false']}/{len(far)}")
    if args.choose:
        print("suggestion threshold on the calibration half (the rule: MAX_SUGGEST_RATE):")
        for t in SUGGEST_THRESHOLDS[::4]:
            print(f"  {t:.4f} " + suggestion_line("calibration", suggestion_figures(halves["calibration"], replace(weights, suggest=float(t)))))
        weights, _ = choose_suggest(halves["calibration"], weights)
        print(f"chosen on the calibration half: suggestion threshold {weights.suggest}")
    else:
        print(f"shipped suggestion threshold: {weights.suggest} (您是否想问, at most {MAX_SUGGESTIONS})")
    for half, rows in halves.items():
        print(suggestion_line(half, suggestion_figures(rows, weights)))
    if args.similar:
        # the second paraphrase of each entry asked, without and with the first one as the entry's 相似问题
        second = {q.text for r in faqs for q in queries if q.expected == r["id"] and q.text == r["paraphrases"][-1]}
        asked = [q for q in queries if q.expected is None or q.text in second]
        with_similar = score_with(embedder, faqs, asked, similar=True)
        without = [s for s in scored if s.query.expected is None or s.query.text in second]
        for name, rows in (("without 相似问题", without), ("with 相似问题", with_similar)):
            report = [s for s in rows if s.query.half == "report"]
            print(f"{name}: " + line("report", figures(report, weights)))
            print(f"{'':<16}" + suggestion_line("report", suggestion_figures(report, weights)))
    if args.show_errors:
        for s in halves["report"]:
            got, best, score = matched(s, weights)
            if got != s.query.expected or (s.query.expected is None and suggested(s, weights)):
                print(f"  {s.query.text}  expected {s.query.expected}, got {got} (best #{best} {score:.3f}), suggested {suggested(s, weights)}")
    return 0


def score_with(embedder, faqs: list[dict], queries: list[Query], similar: bool) -> list[Scored]:
    """The queries scored against the FAQ (with `similar`: each entry's first paraphrase its 相似问题)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = FaqStore(Path(tmp))
        pairs = [Pair(r["question"], r["answer"], r["source"], similar=tuple(r["paraphrases"][:1]) if similar else ()) for r in faqs]
        store.add_many(pairs, origin="bench")
        return score_all(FaqBook(store, embedder), queries)


if __name__ == "__main__":
    raise SystemExit(main())
