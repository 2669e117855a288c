"""Evaluation datasets, each turned into a corpus folder plus questions with their gold.

- SQuAD/CMRC JSON (v1.1 and v2.0): every paragraph becomes a document `<paragraph id>.md` (or
  `<article>-<paragraph>.md` without ids); a question's gold is its own paragraph; a v2.0
  `is_impossible` question is an unanswerable one (CAIL 2019 writes it as the strings "true" /
  "false"; its YES/NO questions have no span and are left out). `cases` (a range of paragraphs in
  file order) takes those paragraphs alone as the corpus and their questions (CAIL's report split:
  the first 150 cases of test).
- LeCoQA JSON + a laws folder: the corpus is the laws folder; a chunk is relevant when its document
  is the gold law (title without `中华人民共和国`, any version) and its heading path holds the gold
  article (`第五十四条`).
- JSONL: `{"question", "answers": [...], "docs": [...], "answerable": bool}` over any folder.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from rag.types import Chunk


@dataclass(frozen=True)
class EvalQuestion:
    qid: str
    question: str
    answers: tuple[str, ...] = ()
    gold_docs: tuple[str, ...] = ()
    gold_articles: tuple[tuple[str, str], ...] = ()  # (normalised law title, 第X条)
    answerable: bool = True


@dataclass(frozen=True)
class EvalSet:
    name: str
    corpus: Path  # folder to index
    questions: tuple[EvalQuestion, ...]
    kind: str  # "squad", "lecoqa" or "jsonl"

    def is_relevant(self, q: EvalQuestion, chunk: Chunk, title: str) -> bool:
        if self.kind == "lecoqa":
            law = law_key(title)
            return any(law == g_law and g_art in chunk.heading_path for g_law, g_art in q.gold_articles)
        if q.gold_docs and chunk.doc_id not in q.gold_docs:
            return False
        if self.kind == "jsonl" and q.answers:  # the passage must hold an expected string
            return any(a in chunk.text for a in q.answers)
        return bool(q.gold_docs)


def law_key(title: str) -> str:
    """`中华人民共和国民法典` / `民法典(2020-05-28)` → `民法典`; also inside 《》 of interpretations."""
    title = re.sub(r"[（(]\d{4}-\d{2}-\d{2}[)）]$", "", title.strip())
    return title.replace("中华人民共和国", "").strip()


def is_impossible(qa: dict) -> bool:
    """SQuAD 2.0's label: a bool, or CAIL 2019's strings "true" / "false"."""
    value = qa.get("is_impossible", False)
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


def load_squad(path: Path, workdir: Path, limit: int | None, cases: tuple[int, int] | None = None) -> EvalSet:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    # Each passage is a Markdown file headed by its article's title: documents have titles, and
    # the title is the topic of sentences that omit their subject (分布于… of a species article).
    part = f"-cases{cases[0]}-{cases[1]}" if cases else ""
    corpus = workdir / f"corpus-{path.stem}-titled{part}"
    corpus.mkdir(parents=True, exist_ok=True)
    questions = []
    index = -1
    for a, article in enumerate(data):
        title = " ".join(article.get("title", "").split())
        for p, para in enumerate(article["paragraphs"]):
            index += 1
            if cases and not cases[0] <= index < cases[1]:
                continue
            doc_id = f"{para.get('id', f'{a}-{p}')}.md"  # SQuAD v1.1/v2.0 paragraphs have no ids (CMRC's do)
            target = corpus / doc_id
            if not target.exists():
                target.write_text(f"# {title}\n\n{para['context']}" if title else para["context"], encoding="utf-8")
            for k, qa in enumerate(para["qas"]):
                qid = str(qa.get("id", f"{a}-{p}-{k}"))
                if is_impossible(qa):  # SQuAD 2.0: its own passage nearly, but does not, answer it
                    questions.append(EvalQuestion(qid, qa["question"], answerable=False))
                    continue
                answers = tuple(dict.fromkeys(x["text"] for x in qa["answers"] if x.get("answer_start", 0) >= 0))
                if not answers:  # CAIL's YES/NO questions: no span to extract
                    continue
                questions.append(EvalQuestion(qid, qa["question"], answers, (doc_id,)))
    return EvalSet(path.stem + part, corpus, tuple(questions[:limit] if limit else questions), "squad")


_ARTICLE = re.compile(r"^(.*?)(第[一二三四五六七八九十百千零〇两\d]+条(?:之[一二三四五六七八九十]+)?)$")


def load_lecoqa(path: Path, laws: Path, workdir: Path, limit: int | None, distractors: int | None) -> EvalSet:
    """LeCoQA over the national laws. With `distractors`, the corpus is the questions' gold laws
    plus that many other national files drawn with a fixed seed (a documented part, for CPUs)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if limit:
        raw = raw[:limit]
    questions = []
    for item in raw:
        gold = []
        for name in item["match_name"]:
            m = _ARTICLE.match(name)
            if m:
                gold.append((law_key(m.group(1)), m.group(2)))
        questions.append(EvalQuestion(str(item["query_id"]), item["问题"], (), (), tuple(gold)))
    national = sorted(p for p in laws.rglob("*.md") if "DLC" not in p.relative_to(laws).parts)
    if distractors is None:  # the national folders only: linked into a folder without DLC/
        corpus = workdir / "laws-national"
        _link_files(national, laws, corpus)
    else:
        wanted = {g for q in questions for g, _ in q.gold_articles}
        gold_files = [p for p in national if law_key(_first_heading(p)) in wanted]
        others = [p for p in national if p not in set(gold_files)]
        random.Random(0).shuffle(others)
        chosen = gold_files + others[:distractors]
        corpus = workdir / f"laws-subset-{len(questions)}q-{distractors}d"
        _link_files(chosen, laws, corpus)
    return EvalSet(path.stem, corpus, tuple(questions), "lecoqa")


def _first_heading(path: Path) -> str:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("# "):
                return line[2:].strip()
    return path.stem


def _link_files(files: list[Path], root: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        dest = target / f.relative_to(root)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(f.resolve())


def jsonl_question(qid: str, r: dict) -> EvalQuestion:
    """One row of a JSONL set (other keys, such as an exported log's `label`, are ignored)."""
    return EvalQuestion(qid, r["question"], tuple(r.get("answers", [])), tuple(r.get("docs", [])), (), bool(r.get("answerable", True)))


def load_jsonl(path: Path, corpus: Path, limit: int | None) -> EvalSet:
    questions = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        questions.append(jsonl_question(str(i), json.loads(line)))
    return EvalSet(path.stem, corpus, tuple(questions[:limit] if limit else questions), "jsonl")


def load_dataset(
    dataset: Path, corpus: Path | None, workdir: Path, limit: int | None = None, distractors: int | None = None, cases: tuple[int, int] | None = None
) -> EvalSet:
    if dataset.suffix == ".jsonl":
        if corpus is None:
            raise ValueError("a JSONL dataset needs --corpus (the folder its docs are relative to)")
        return load_jsonl(dataset, corpus, limit)
    head = dataset.read_text(encoding="utf-8")[:2000]
    if '"data"' in head and '"paragraphs"' in head:
        return load_squad(dataset, workdir, limit, cases)
    if "match_name" in head or "相关法规" in head:
        if corpus is None:
            raise ValueError("LeCoQA needs --corpus pointing at the laws folder")
        return load_lecoqa(dataset, corpus, workdir, limit, distractors)
    raise ValueError(f"{dataset}: not a SQuAD/CMRC, LeCoQA or JSONL dataset")


def with_unanswerable(evalset: EvalSet, other: EvalSet, limit: int | None = None) -> EvalSet:
    """`evalset` plus the questions of `other` as unanswerable ones: asked of `evalset`'s corpus,
    which does not hold their passages (CMRC trial questions over the dev passages: other articles
    of the same encyclopedia), they measure refusal of questions from outside the collection. A
    question the first set also asks is left out."""
    if evalset.kind == "lecoqa":
        raise ValueError("LeCoQA is scored on retrieval only: unanswerable questions would not be scored")
    own = {q.question for q in evalset.questions}
    asked = other.questions[:limit] if limit else other.questions
    negatives = tuple(EvalQuestion(f"other-{q.qid}", q.question, answerable=False) for q in asked if q.question not in own)
    return EvalSet(evalset.name, evalset.corpus, evalset.questions + negatives, evalset.kind)
