"""`rag calibrate --from-log` measured on real labelled sets (docs/question-log.md).

    python bench/calibrate_from_log.py ../shared/data/cail2019/cail2019_test.json --cases 0:150
    python bench/calibrate_from_log.py ../shared/data/cmrc2018/cmrc2018_dev.json --cases 0:200

The set's documents are split in two (seeded, by document: the questions of one passage stay on one
side): the first side's questions are asked and judged into a fresh question log by a simulated user
who knows the labels (rag/usage/simulate.py), the other side's are held out. The weight
`calibrate` chooses from the log is compared with the weight a labelled sweep of the held-out
questions chooses, by held-out R@5. The refusal threshold fitted from the log is scored on the
held-out questions (the other half of the unanswerable ones are held out too): the share of
unanswerable ones it refuses and of answerable ones it refuses falsely, beside the reader's default
threshold. Then the bootstrap interval of the weight and of the rules reader's threshold for logs
of 25 to all judged questions (the first n), which is what the minimum counts of `rag calibrate`
rest on. The rules reader answers (fast; the weight does not depend on it); `--readers rules,model`
fits and scores the trained reader's threshold too (slower: it reads every question's passages).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.assistant import Assistant  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.evaluation.cli import WORKDIR  # noqa: E402
from rag.evaluation.datasets import load_dataset  # noqa: E402
from rag.evaluation.runner import Evaluation  # noqa: E402
from rag.indexing.build import build_index  # noqa: E402
from rag.store import index_backends  # noqa: E402
from rag.usage.asking import OFFERED_PASSAGES  # noqa: E402
from rag.usage.calibrate import WEIGHTS, calibrate  # noqa: E402
from rag.usage.log import QuestionLog  # noqa: E402
from rag.usage.simulate import simulate_judgments  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("--cases", help="A:B, the paragraphs A..B-1 alone (as `rag eval --cases`)")
    ap.add_argument("--logged", type=float, default=0.5, help="share of the documents whose questions are logged (default 0.5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--offered",
        type=int,
        default=OFFERED_PASSAGES,
        help=f"after 👎 the user picks among this many passages (default {OFFERED_PASSAGES}, as the chat; 0: those shown)",
    )
    ap.add_argument("--by", choices=("MRR@10", "R@5"), default="MRR@10", help="what the weight is chosen by (default MRR@10)")
    ap.add_argument("--readers", default="rules", help="whose refusal thresholds to fit and score (default rules; rules,model: the trained one too)")
    args = ap.parse_args()
    WORKDIR.mkdir(parents=True, exist_ok=True)
    cases = tuple(int(x) for x in args.cases.split(":")) if args.cases else None
    evalset = load_dataset(Path(args.dataset), None, WORKDIR, cases=cases)  # type: ignore[arg-type]
    settings = Settings.from_env(reader="rules")
    settings = replace(settings, index_dir=WORKDIR / f"index-{evalset.corpus.name}-c{settings.chunk.size}o{settings.chunk.overlap}")
    embedder = Embedder.from_settings(settings, index_backends(settings))
    build_index([evalset.corpus], settings, embedder)
    assistant = Assistant(settings, embedder=embedder)

    docs = sorted({d for q in evalset.questions for d in q.gold_docs})
    random.Random(args.seed).shuffle(docs)
    logged_docs = set(docs[: int(len(docs) * args.logged)])
    unanswerable = [q for q in evalset.questions if not q.answerable]  # no document of their own: every other one logged
    logged = [q for q in evalset.questions if set(q.gold_docs) & logged_docs] + unanswerable[::2]
    random.Random(args.seed).shuffle(logged)  # asked in mixed order: the first n of the log are a sample of it
    held = [q for q in evalset.questions if q.answerable and not set(q.gold_docs) & logged_docs]
    held_unanswerable = unanswerable[1::2]
    # -no-answer: judged by the simulation that chooses 以上段落都不能回答 for an answered unanswerable
    # question (in the logs of the first one a 👎 alone, which reads as wrong-answer now)
    folder = ROOT / "bench/out/calibrate_from_log" / f"{evalset.name}-seed{args.seed}-offered{args.offered}-no-answer"
    log = QuestionLog(folder / "log")
    if not log.files():  # asked and judged once, kept: other criteria are tried on the same log
        given = simulate_judgments(log, assistant, evalset, logged, offered=args.offered)
    else:
        given = Counter(e.label for e in log.read().entries)
    judged = log.read().judged
    labels = Counter(j.label for j in judged)
    print(f"## {evalset.name}: {len(judged)} judged questions in the log ({dict(given)}; {dict(labels)}), {len(held)} + {len(held_unanswerable)} held out")

    readers = tuple(r.strip() for r in args.readers.split(",") if r.strip())
    result = calibrate(assistant, judged, readers=readers, by=args.by)
    weight, *thresholds = result.choices
    print(f"not used: {dict(result.unused)}")
    print(weight.line())
    for threshold in thresholds:
        print(threshold.line())
    evaluation = Evaluation(replace(evalset, questions=tuple(held)), assistant, with_baselines=False, with_readers=False)
    evaluation.run()
    recall = {w: sum(bool(r) and min(r) <= 5 for r in ranks) / len(ranks) for w in WEIGHTS for ranks in [evaluation.fused_ranks(w)]}
    best = max(WEIGHTS, key=lambda w: (recall[w], -abs(w - settings.retrieval.dense_weight)))
    print("\n| held-out | " + " | ".join(f"{w:g}" for w in WEIGHTS) + " |\n|---|" + "---|" * len(WEIGHTS))
    print("| R@5 | " + " | ".join(f"{recall[w]:.3f}" for w in WEIGHTS) + " |")
    chosen = weight.value if weight.value is not None else settings.retrieval.dense_weight
    print(f"\nlabelled sweep of the held-out questions: {best:g} (R@5 {recall[best]:.3f}); from the log: {chosen:g} (held-out R@5 {recall[chosen]:.3f})")

    at_chosen = Assistant(replace(settings, retrieval=replace(settings.retrieval, dense_weight=chosen)), embedder=embedder)
    scored = Evaluation(replace(evalset, questions=tuple(held + held_unanswerable)), at_chosen, with_baselines=False, only_readers=readers)
    scored.run()
    print(f"\nheld-out refusal at weight {chosen:g} ({len(held)} answerable, {len(held_unanswerable)} unanswerable questions):")
    print("| reader | threshold | refused unanswerable | false refusals |\n|---|---|---|---|")
    for name, threshold in zip(readers, thresholds):
        in_use = scored.readers()[name].threshold
        fitted = threshold.value if threshold.value is not None else in_use
        sweep = scored.refusal_sweep(name, (fitted,))
        for t, what in ((in_use, "default"), (fitted, "fitted from the log")):
            m = sweep[f"{t:g}"]
            print(f"| {name} | {t:g} ({what}) | {m['refusal_recall']:.3f} | {m['false_refusal']:.3f} |")

    print("\n| judged questions | weight (interval) | rules threshold (interval) |\n|---|---|---|")
    for n in (25, 50, 100, 200, 400, len(judged)):
        if n > len(judged):
            continue
        part = calibrate(assistant, judged[:n], readers=("rules",), min_questions=1, min_each=1, by=args.by)
        cells = [f"{c.value:g} ({c.interval[0]:.3g}–{c.interval[1]:.3g}, n {c.n})" if c.value is not None and c.interval else c.why_kept for c in part.choices]
        print(f"| {n} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
