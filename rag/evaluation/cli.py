"""`python -m rag eval`: index the dataset's corpus (cached, incremental), run every system, print
a side-by-side table, optionally sweep fusion weights and write all figures as JSON."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from rag.evaluation.datasets import load_dataset, with_unanswerable
from rag.evaluation.runner import Evaluation
from rag.text.script import convert

WORKDIR = Path("bench/out/eval")


def _table(result: dict) -> str:
    rows = ["| system | R@1 | R@5 | R@10 | R@20 | MRR@10 |", "|---|---|---|---|---|---|"]
    for name, m in result["retrieval"].items():
        rows.append(f"| {name} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['R@20']:.3f} | {m['MRR@10']:.3f} |")
    if "answers" in result:
        rows.append("")
        rows.append("| answers (reader) | hit | all strings | EM | F1 | chars | citation acc | false refusal | refusal P | refusal R |")
        rows.append("|---|---|---|---|---|---|---|---|---|---|")
        for name, a in result["answers"].items():
            rows.append(
                f"| {name} | {a['hit']:.3f} | {a['all_strings']:.3f} | {a['EM']:.1f} | {a['F1']:.1f} | {a['answer_chars']:.0f} | "
                f"{a['citation_acc']:.3f} | {a['false_refusal']:.3f} | "
                f"{a.get('refusal_precision', float('nan')):.3f} | {a.get('refusal_recall', float('nan')):.3f} |"
            )
    lat = result["latency_ms"]
    rows.append("")
    rows.append("| latency ms | " + " | ".join(lat) + " |")
    rows.append("|---|" + "---|" * len(lat))
    rows.append("| p50 | " + " | ".join(f"{v['p50']:.1f}" for v in lat.values()) + " |")
    rows.append("| p95 | " + " | ".join(f"{v['p95']:.1f}" for v in lat.values()) + " |")
    return "\n".join(rows)


def run_eval(args, settings) -> int:
    from tqdm import tqdm

    from rag.assistant import Assistant
    from rag.embedding import Embedder
    from rag.indexing.build import build_index
    from rag.store import index_backends

    WORKDIR.mkdir(parents=True, exist_ok=True)
    cases = None
    if args.cases:
        lo, _, hi = args.cases.partition(":")
        cases = (int(lo or 0), int(hi))
    evalset = load_dataset(Path(args.dataset), Path(args.corpus) if args.corpus else None, WORKDIR, args.limit, args.distractors, cases)
    if args.unanswerable_from:
        # only the other set's questions are used: a JSONL set's corpus argument is not read
        other = load_dataset(Path(args.unanswerable_from), Path(args.corpus) if args.corpus else evalset.corpus, WORKDIR)
        evalset = with_unanswerable(evalset, other, args.limit)
    if args.question_script != "asis":  # the references stay as written: answers quote the documents
        evalset = replace(evalset, questions=tuple(replace(q, question=convert(q.question, args.question_script)) for q in evalset.questions))
    if args.dense_weight is not None:
        settings = replace(settings, retrieval=replace(settings.retrieval, dense_weight=args.dense_weight))
    if args.chunk_size or args.chunk_overlap is not None:
        chunk = replace(
            settings.chunk, size=args.chunk_size or settings.chunk.size, overlap=settings.chunk.overlap if args.chunk_overlap is None else args.chunk_overlap
        )
        settings = replace(settings, chunk=chunk)
    if not args.index:
        suffix = f"-c{settings.chunk.size}o{settings.chunk.overlap}"
        settings = replace(settings, index_dir=WORKDIR / f"index-{evalset.corpus.name}{suffix}")
    embedder = Embedder.from_settings(settings, index_backends(settings))
    bar = tqdm(total=0, unit="chunk", desc=f"indexing {evalset.corpus.name}", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    started = time.perf_counter()
    report = build_index([evalset.corpus], settings, embedder, progress=progress)
    bar.close()
    print(f"index: {report.summary()}", file=sys.stderr)
    assistant = Assistant(settings, embedder=embedder)
    evaluation = Evaluation(evalset, assistant, with_baselines=not args.no_baselines, with_readers=not args.retrieval_only)
    result = evaluation.run()
    result["index_seconds"] = time.perf_counter() - started
    script = "" if args.question_script == "asis" else f", questions in script {args.question_script}"
    print(f"## {evalset.name}{script}: {result['questions']} questions, {result['chunks']} chunks, dense weight {result['dense_weight']}")
    print(_table(result))
    if args.sweep:
        weights = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]
        result["sweep"] = evaluation.sweep(weights)
        print("\n| fusion | R@1 | R@5 | R@10 | MRR@10 |\n|---|---|---|---|---|")
        for w, m in result["sweep"].items():
            print(f"| {w} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} |")
    if args.sweep and "answers" in result and next(iter(result["answers"].values())).get("refusal_recall") is not None:
        result["refusal_sweep"] = {name: evaluation.refusal_sweep(name) for name in result["answers"]}
        for name, sweep in result["refusal_sweep"].items():
            print(f"\n| {name}: threshold | refused unanswerable | false refusals | hit | F1 |\n|---|---|---|---|---|")
            for threshold, m in sweep.items():
                print(f"| {threshold} | {m['refusal_recall']:.3f} | {m['false_refusal']:.3f} | {m['hit']:.3f} | {m['F1']:.1f} |")
            balanced = evaluation.balanced_threshold(name)
            if balanced:
                result.setdefault("balanced_threshold", {})[name] = balanced
                print(
                    f"{name}: most refused minus false refusals at {balanced['threshold']:g} "
                    f"({balanced['refusal_recall']:.3f} refused, {balanced['false_refusal']:.3f} false refusals)"
                )
    if args.show_errors:
        print("\nmissed (question | reference | answer):")
        for row in evaluation.misses[: args.show_errors]:
            print("  " + " | ".join(row))
        print("weak spans (question | reference | span):")
        for row in evaluation.weak_spans[: args.show_errors]:
            print("  " + " | ".join(row))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0
