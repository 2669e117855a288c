"""Issue 18, the refusal half: do pseudo-questions made from a collection's own text tell where its
refusal threshold should be?

    python bench/refusal_pseudo.py INDEX [--questions 200] [--readers rules,model]

For sampled chunks of the index (seed 13), a pseudo-question is made from one of their sentences
(the kinds of bench/fusion_pseudo.py: a verbatim clause; the sentence with a 2-6 character
"answer" cut out and 30 % or 50 % of its other characters dropped). Each is asked twice through
the product's retrieval and reader: as it is (it should be answered), and with every candidate
passage that holds its source sentence taken away, so that the reader sees only what retrieval
ranks next (a near miss: it should be refused). The threshold with the most near misses refused
minus answerable refused (`balanced_threshold`, as `rag eval --sweep` prints it for labelled sets)
is what self-calibration would choose; compare it with the labelled sets' own.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fusion_pseudo import clauses, cloze_sentences, noisy_cloze  # noqa: E402

from rag.evaluation.runner import RefusalRecord, balanced_threshold  # noqa: E402
from rag.retrieve.fusion import stand_out  # noqa: E402
from rag.retrieve.hybrid import StageTimer  # noqa: E402


def clause_of(chunk, rng: random.Random) -> tuple[str, str] | None:
    """(question, the sentence it comes from)."""
    pieces = clauses(chunk)
    return rng.choice(pieces) if pieces else None


def cloze_of(chunk, rng: random.Random, drop: float) -> tuple[str, str] | None:
    state = rng.getstate()
    question = noisy_cloze(chunk, rng, drop)
    if question is None:
        return None
    rng.setstate(state)  # the same draw again, to know the sentence it came from
    return question, rng.choice(cloze_sentences(chunk))


KINDS = {
    "clause": clause_of,
    "cloze 30%": lambda c, r: cloze_of(c, r, 0.3),
    "cloze 50%": lambda c, r: cloze_of(c, r, 0.5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--readers", default="rules,model")
    args = parser.parse_args()

    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.embedding import Embedder
    from rag.read import Reader, open_reader
    from rag.store import index_backends

    settings = replace(Settings.from_env(), index_dir=Path(args.index))
    assistant = Assistant(settings, embedder=Embedder.from_settings(settings, index_backends(settings)))
    retriever, rules = assistant.retriever, assistant.rule_reader
    readers: dict[str, Reader] = {}
    if "rules" in args.readers:
        readers["rules"] = rules.with_threshold(float("-inf"))
    if "model" in args.readers:
        model, status = open_reader(replace(settings, reader="model"), assistant.documents, rules)
        if model.name == "model":
            readers["model"] = model.with_threshold(float("-inf"))
        else:
            print(status, file=sys.stderr)
    chunks = list(assistant.data.chunks)
    k = settings.retrieval.top_k
    rng = random.Random(13)
    sampled = rng.sample(chunks, min(args.questions, len(chunks)))
    records: dict[tuple[str, str], list[RefusalRecord]] = {(kind, name): [] for kind in KINDS for name in readers}
    for kind, make in KINDS.items():
        for chunk in sampled:
            made = make(chunk, rng)
            if made is None:
                continue
            question, sentence = made
            timer = StageTimer()
            passages, z = retriever.search_with_stats(question, k=k + 20, timer=timer)
            away = [p for p in passages if sentence not in p.chunk.text]
            # the near miss's dense z-score: over the candidates without the source sentence's chunks
            assert timer.query_vector is not None  # hybrid search embeds the question
            ids, sims = retriever.dense(timer.query_vector, settings.retrieval.candidates)
            keep = np.array([sentence not in chunks[int(i)].text for i in ids], dtype=bool)
            z_away = stand_out(sims[keep])
            for name, reader in readers.items():
                for answerable, read, dense_z in ((True, passages[:k], z), (False, away[:k], z_away)):
                    answer = reader.answer(question, read, dense_z=dense_z)
                    records[(kind, name)].append(RefusalRecord(answerable, answer.confidence, answer.refused, False, 0.0))
    print(f"{args.index}: {len(chunks)} chunks, {len(sampled)} sampled, readers {', '.join(readers)}")
    print("| pseudo-questions | reader | pairs | threshold chosen | pseudo near misses refused | pseudo answerable refused |")
    print("|---|---|---|---|---|---|")
    for (kind, name), rows in records.items():
        best = balanced_threshold(rows)
        if best is None:
            print(f"| {kind} | {name} | {len(rows) // 2} | — | — | — |")
            continue
        print(f"| {kind} | {name} | {len(rows) // 2} | {best['threshold']:.3f} | {best['refusal_recall']:.3f} | {best['false_refusal']:.3f} |")


if __name__ == "__main__":
    main()
