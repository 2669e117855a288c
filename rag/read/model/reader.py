"""The trained reader: e5-small fine-tuned to point at the answer span, or at "no answer".

It reads the top retrieved passages, each widened by some of its document's text on both sides
(an answer is not cut at a chunk edge), in overlapping token windows. In every window the best
span (start logit + end logit over passage tokens) is set against a "no answer" score ([CLS]): the
window's own, or, for a reader trained with shared normalisation (manifest `"norm": "shared"`),
the highest of all windows read; the span with the widest margin wins, and a margin below the calibrated threshold means
the documents do not answer. The answer quotes the sentence holding the span (a list-announcing
sentence with its items, as the rule reader does), the span in bold, with its citation.

Loading is in loading.py, decoding logits into span guesses in decode.py, quoting and citing in
rag/read/compose.py (shared with the rule reader).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from rag.ingest.govdoc import in_their_words
from rag.read.compose import (
    MAX_SENTENCE_CHARS,
    Quote,
    balance_brackets,
    cited_answer,
    clause_run,
    in_title_line,
    names_agree,
    quote_limit,
    refusal,
    with_discourse,
)
from rag.read.model.decode import SpanGuess, best_spans, fits_expected, interpolated
from rag.read.model.loading import LoadedReader, load_reader
from rag.read.model.windows import Batch
from rag.read.question import Expects, QuestionAnalysis, analyse_question
from rag.text.script import like, written_in
from rag.text.sentences import split_sentences, without_edges
from rag.types import Answer, Document, Passage


@dataclass(frozen=True)
class ReaderSettings:
    passages: int = 5  # how many of the top retrieved passages are read (neighbours are read once)
    context_chars: int = 80  # document text read on each side of a passage's chunk
    max_answer_tokens: int = 48
    # runner-ups quoted after the best span: a margin within ln 4 of the best (the reader finds it at
    # least a quarter as likely; chosen before measuring, not tuned), at most 3 sentences in all
    runner_up_within: float = 1.386
    max_sentences: int = 3
    min_margin: float | None = None  # None: the threshold calibrated in the manifest
    # refusal score = margin + support_weight × the rule reader's lexical coverage of the question
    # (calibrate.py picks the weight with the threshold; 0: the margin alone). None: the manifest's
    support_weight: float | None = None
    # the quoted span is the one with the best margin + passage_weight × its passage's fused retrieval
    # score (BERTserini's interpolation of reader and retriever; calibrate.py picks the weight on
    # calibration questions). None: the manifest's (0 when it has none: the margin alone)
    passage_weight: float | None = None
    # bfloat16: 2.3x faster than float32 on this CPU, the same spans on 100 of 100 CMRC trial
    # questions; dynamic int8 lost 15-20 F1 points (docs/reader.md)
    dtype: str = "bfloat16"


def lexical_support(
    rules,
    question_text: str,
    passages: list[Passage],
    guesses: list[SpanGuess],
    context_question: str | None = None,
    question: QuestionAnalysis | None = None,
) -> float:
    """How well the rule reader's best-supported sentence of the passage the widest-margin span
    comes from covers the question's weighted words (its confidence without the dense term): low
    when the passage the reader answers from misses what the question asks. 0 without a span."""
    if not guesses:
        return 0.0
    passage = passages[guesses[0].passage]
    return float(rules.answer(question_text, [passage], context_question=context_question, dense_z=None, question=question).confidence)


class ModelReader:
    name = "model"
    sweep_thresholds: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0)

    def __init__(self, documents: dict[str, Document], loaded: LoadedReader, settings: ReaderSettings = ReaderSettings(), rules=None) -> None:
        self.documents = documents
        self.loaded = loaded
        self.settings = settings
        self.rules = rules  # the rule reader, for its lexical coverage (the refusal score's second term)
        # trained with shared normalisation (rag/train/shared_norm.py): scores comparable across windows
        self.shared_norm = loaded.manifest.get("norm") == "shared"
        calibration = loaded.manifest.get("calibration", {})
        self.passage_weight = float(calibration.get("passage_weight", 0.0) if settings.passage_weight is None else settings.passage_weight)
        weight = calibration.get("support_weight", 0.0) if settings.support_weight is None else settings.support_weight
        self.support_weight = float(weight) if rules is not None else 0.0
        if settings.min_margin is not None:
            self.min_margin = settings.min_margin
        elif self.support_weight == calibration.get("support_weight", 0.0):
            self.min_margin = calibration.get("min_margin", 0.0)
        else:  # another weight than the calibrated one (no rules to ask, or overridden): its own trial's threshold
            trial: dict = next((t for t in calibration.get("weights_tried", ()) if t.get("support_weight") == self.support_weight), {})
            self.min_margin = trial.get("min_margin", 0.0)

    @property
    def threshold(self) -> float:
        return self.min_margin

    def with_threshold(self, threshold: float) -> "ModelReader":
        settings = replace(self.settings, min_margin=threshold, support_weight=self.support_weight, passage_weight=self.passage_weight)
        return ModelReader(self.documents, self.loaded, settings, self.rules)

    def support(
        self,
        question_text: str,
        passages: list[Passage],
        guesses: list[SpanGuess],
        context_question: str | None = None,
        question: QuestionAnalysis | None = None,
    ) -> float:
        """`lexical_support` of the span's passage; 0 without rules or when its weight is 0 (not run)."""
        if self.rules is None or not self.support_weight:
            return 0.0
        return lexical_support(self.rules, question_text, passages, guesses, context_question, question)

    def read(self, question: str, passages: list[Passage], analysis: QuestionAnalysis | None = None) -> list[SpanGuess]:
        """The best span of each passage read (best first), margins included, no threshold. A passage
        gives none when its best span cannot answer the question's type (`fits_expected`), or when its
        document does not name the places and years the question names (`names_agree`). `analysis`:
        the question analysed (here when not given)."""
        import torch

        if not passages:
            return []
        maker = self.loaded.maker
        regions = self._regions(passages)
        # the reader was trained on questions in the script of their passage (CMRC simplified, DRCD
        # both ways), never mixed: a question in the other script is converted to theirs (DRCD dev
        # asked in simplified: F1 59.1 so, 57.2 with OpenCC's standard characters only, 55.5 with both read
        # in simplified, 15.4 as written; as written in traditional: 60.3)
        texts = [text for _, text, _ in regions]
        joined = "".join(texts)
        script = written_in(joined)
        if written_in(question) != script:
            question = like(question, script, joined)
        # a header field by the name the passages give it (发文字号 → their 文号): the network matches
        # names, and CMRC taught it no synonyms of header fields
        question = in_their_words(question, joined)
        encoded = maker.encode([question] + texts)
        q, docs = encoded[0], encoded[1:]
        windows = [w for n, d in enumerate(docs) if d.ids for w in maker.windows(q, d, passage=n)]
        if not windows:
            return []
        batch = Batch(windows)
        ids, valid, _ = batch.tensors
        with self.loaded.lock, torch.inference_mode():
            start_logits, end_logits = self.loaded.network(ids, valid)
        analysis = analysis or analyse_question(question)
        spans = best_spans(start_logits, end_logits, batch, self.settings.max_answer_tokens)
        if self.shared_norm:  # one normalisation for all windows: a span against the best "no answer" of all
            everywhere = max(null for *_, null in spans)
            spans = [(i, j, score, everywhere) for i, j, score, _ in spans]
        best: dict[int, SpanGuess] = {}
        for window, (i, j, score, null) in zip(windows, spans):
            a, b = window.char_span(i, j)
            offset, text, members = regions[window.passage]
            a, b = balance_brackets(text, *without_edges(text, a, b))
            if b <= a:
                continue
            start, end = offset + a, offset + b
            # the passage it is cited from: the one whose chunk holds most of it (the first on ties)
            owner = max(members, key=lambda n: (min(end, passages[n].chunk.end) - max(start, passages[n].chunk.start), -n))
            if not fits_expected(analysis.expects, text[a:b]):
                continue  # a span of the wrong type (no time word for 什么时候): this passage misses the fact
            document = self.documents[passages[owner].chunk.doc_id]
            if not names_agree(analysis, document):
                continue  # another place's or year's document (the Fujian reply for a Taipei question)
            if analysis.expects != Expects.TITLE and in_title_line(document, start, end):
                continue  # the document's title answers only what a document is called
            guess = SpanGuess(owner, start, end, score - null, score)
            if window.passage not in best or guess.margin > best[window.passage].margin:
                best[window.passage] = guess
        return sorted(best.values(), key=lambda g: -g.margin)

    def widened(self, passage: Passage) -> tuple[int, int]:
        """Where the reader reads a passage in its document: its chunk and `context_chars` on both sides."""
        chunk, context = passage.chunk, self.settings.context_chars
        return max(0, chunk.start - context), min(len(chunk.source), chunk.end + context)

    def _regions(self, passages: list[Passage]) -> list[tuple[int, str, list[int]]]:
        """(offset, text, passages in it): each passage's chunk widened by `context_chars` on both
        sides; regions of one document that overlap or touch are read once, as one."""
        spans: dict[str, list[list]] = {}
        for n, p in enumerate(passages):
            spans.setdefault(p.chunk.doc_id, []).append([*self.widened(p), [n]])
        regions = []
        for items in spans.values():
            items.sort()
            merged = [items[0]]
            for lo, hi, members in items[1:]:
                if lo <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], hi)
                    merged[-1][2] += members
                else:
                    merged.append([lo, hi, members])
            source = passages[items[0][2][0]].chunk.source
            regions += [(lo, source[lo:hi], sorted(members)) for lo, hi, members in merged]
        return sorted(regions, key=lambda r: r[2][0])

    def answer(
        self,
        question_text: str,
        passages: list[Passage],
        context_question: str | None = None,
        dense_z: float | None = None,
        question: QuestionAnalysis | None = None,
    ) -> Answer:
        question = question or analyse_question(question_text)
        if context_question and self.rules is not None and question.elliptical:
            # 那下一步呢? borrows the previous question's question word and asks about its own words;
            # the network was trained on standalone questions (the previous one prepended, it answers
            # the previous question again), the rule reader reads such follow-ups in context
            return self.rules.answer(question_text, passages, context_question, dense_z, question=question)
        asked = f"{context_question} {question_text}" if context_question else question_text
        # the type asked for is this question's own (那什么时候成立的呢? asks a date whatever the previous
        # one asked); only an elliptical follow-up (read here when no rules are at hand) borrows it
        analysis = analyse_question(asked) if context_question and question.elliptical else question
        guesses = self.read(asked, list(passages[: self.settings.passages]), analysis)
        support = self.support(question_text, passages, guesses, context_question, question)
        return self.compose(question_text, passages, guesses, support, question)

    def compose(
        self, question_text: str, passages: list[Passage], guesses: list[SpanGuess], support: float = 0.0, question: QuestionAnalysis | None = None
    ) -> Answer:
        """The answer from what `read` found in `passages` (refused below the threshold).

        The best span is quoted in its sentence; a runner-up from another passage that the reader
        finds nearly as likely (margin within `runner_up_within`, above the threshold) is quoted
        after it with its own citation: one for a factoid question, two otherwise, as the rule
        reader does."""
        read = list(passages[: self.settings.passages])
        bonus = self.support_weight * support
        score = guesses[0].margin + bonus if guesses else float("-inf")
        question = question or analyse_question(question_text)
        if not guesses or score < self.min_margin:  # nothing read (or no span of the right type) refuses at any threshold
            return self._refused(question_text, question, passages, score)
        limit = quote_limit(question, self.settings.max_sentences)
        # only spans whose own margin clears the threshold are quoted (the widest one always does)
        ranked = [(combined, g) for combined, g in self.ranked(guesses, read) if g.margin >= self.min_margin - bonus]
        floor = ranked[0][0] - self.settings.runner_up_within
        chosen: list[tuple[SpanGuess, Passage, int, int]] = []
        for combined, guess in ranked:
            if len(chosen) >= limit or combined < floor:
                break
            passage = read[guess.passage]
            doc = self.documents[passage.chunk.doc_id]
            start, end = self._sentence(doc, passage, guess)
            if not chosen:  # the list-announcing sentence of the best span brings its items
                start, end = with_discourse(doc.text, passage.chunk, question, start, end)
            # the quote stays inside the cited chunk where the span allows (the card highlights it there)
            start = max(start, min(passage.chunk.start, guess.start))
            end = min(end, max(passage.chunk.end, guess.end))
            if any(p.chunk.doc_id == passage.chunk.doc_id and a < end and start < b for _, p, a, b in chosen):
                continue  # the same text quoted twice
            chosen.append((guess, passage, start, end))
        quotes = []
        for guess, passage, start, end in chosen:
            text = self.documents[passage.chunk.doc_id].text
            quotes.append(Quote(passage, start, end, text[start:end], text[guess.start : guess.end], guess.start - start, guess.margin))
        return cited_answer(question_text, self.documents, quotes, passages, score)

    def _refused(self, question_text: str, question: QuestionAnalysis, passages: list[Passage], score: float) -> Answer:
        """The refusal, unless the question names a place or year that some passages' documents do
        not: their spans were set aside (`names_agree`), and the rule reader, which weighs how much of
        the question a sentence covers, is asked of the passages that agree (a Taipei question whose
        notice words its items unlike the network's training, beside a Fujian reply that it read
        confidently). Answered so, its confidence is the threshold (answered at it, not above)."""
        if self.rules is not None and question.names:
            read = list(passages[: self.settings.passages])
            agreeing = [p for p in read if names_agree(question, self.documents[p.chunk.doc_id])]
            if agreeing and len(agreeing) < len(read):
                answer = self.rules.answer(question_text, agreeing, question=question)
                if not answer.refused:
                    return replace(answer, passages=tuple(passages), confidence=self.min_margin)
        return refusal(question_text, passages, confidence=score)

    def ranked(self, guesses: list[SpanGuess], read: list[Passage]) -> list[tuple[float, SpanGuess]]:
        """(margin + passage_weight × the passage's retrieval score, guess), best first."""
        return sorted(((interpolated(g.margin, read[g.passage].score, self.passage_weight), g) for g in guesses), key=lambda t: -t[0])

    def _sentence(self, doc: Document, passage: Passage, guess: SpanGuess) -> tuple[int, int]:
        """The sentence(s) holding the span, cut to at most MAX_SENTENCE_CHARS of clauses around it."""
        lo = max(0, min(passage.chunk.start, guess.start) - self.settings.context_chars)
        hi = min(len(doc.text), max(passage.chunk.end, guess.end) + self.settings.context_chars)
        spans = [s for s in split_sentences(doc.text[lo:hi], lo) if s[0] < guess.end and guess.start < s[1]]
        start = min([s[0] for s in spans] + [guess.start])
        end = max([s[1] for s in spans] + [guess.end])
        if end - start <= MAX_SENTENCE_CHARS:
            return start, end
        # a long sentence: grow clause by clause around the span
        return clause_run(doc.text, start, end, guess.start, guess.end)


def open_model_reader(
    documents: dict[str, Document], model_folder: Path, settings: ReaderSettings = ReaderSettings(), weights_dir: Path | None = None, rules=None
) -> ModelReader:
    return ModelReader(documents, load_reader(model_folder, weights_dir, settings.dtype), settings, rules)
