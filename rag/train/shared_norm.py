"""`python -m rag train-reader --shared-norm --init-from rag/read/model/weights`: the windows of one
question read together (issue 33).

Shared normalisation (Clark & Gardner 2018): the start (and end) logits of all windows of a question
go through one softmax, [CLS] of every window standing for "no answer", so a span's score in one
passage means the same as in another; the reader then sets its best span against the best no-answer
score of all the windows it read (manifest `"norm": "shared"`, rag/read/model/reader.py). An
answerable question's target is its answer's start and end in the window that holds it; an
unanswerable one's (CAIL's human-written near misses) is [CLS], in whichever window. Groups and
hard negatives: groups.py.

Recipe: goes on from a shipped reader (its adapters merged into the lower blocks, which stay
frozen); the upper blocks and the head train under bfloat16 autocast (AdamW, warm-up then linear
decay, gradient clip 1.0), `--groups-per-step` questions a step. Checkpoints every
`--checkpoint-every` steps outside the repository; an interrupted run resumes. The shipped file keeps
the previous adapters (unchanged) and replaces the upper blocks and head.
"""

from __future__ import annotations

import json
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np

from rag.read.model.weights import base_hash, file_sha256, load_trained, save, trained_state
from rag.read.model.windows import Batch, WindowMaker
from rag.train.groups import CAIL_CALIBRATION_CASES, CAIL_REPORT_CASES, Group, build_groups, training_questions

FILES = ("cail2019/cail2019_dev.json", "cail2019/cail2019_test.json", "news_mrc/news_mrc_train.json", "cmrc2018/cmrc2018_train.json", "drcd/DRCD_test.json")
FROZEN_LAYERS = 8
GROUPS_FORMAT = 1  # bump when groups.py builds different groups


def group_loss(start_logits, end_logits, allowed, groups: list[Group]):
    """Mean over the groups of −log P(gold start) − log P(gold end), each normalised over every
    allowed position of all the group's windows ([CLS] included); rows in the order of `groups`."""
    import torch

    s = start_logits.float().masked_fill(~allowed, -1e4)
    e = end_logits.float().masked_fill(~allowed, -1e4)
    width = s.shape[1]
    losses, row = [], 0
    for group in groups:
        k = len(group.windows)
        if group.answerable:
            gold_s = [n * width + w.start for n, w in enumerate(group.windows) if w.start]
            gold_e = [n * width + w.end for n, w in enumerate(group.windows) if w.start]
        else:
            gold_s = gold_e = [n * width for n in range(k)]
        flat_s, flat_e = s[row : row + k].reshape(-1), e[row : row + k].reshape(-1)
        loss_s = torch.logsumexp(flat_s, 0) - torch.logsumexp(flat_s[gold_s], 0)
        loss_e = torch.logsumexp(flat_e, 0) - torch.logsumexp(flat_e[gold_e], 0)
        losses.append((loss_s + loss_e) / 2)
        row += k
    return torch.stack(losses).mean()


# the sets reported on (docs/reader.md): no passage of theirs may be trained on
REPORTED = {
    "cail_test_first_150_cases": ("cail2019/cail2019_test.json", (0, CAIL_REPORT_CASES)),
    "cail_test_calibration_cases_150_299": ("cail2019/cail2019_test.json", CAIL_CALIBRATION_CASES),
    "news_dev": ("news_mrc/news_mrc_dev.json", None),
    "cmrc_dev": ("cmrc2018/cmrc2018_dev.json", None),
    "cmrc_trial": ("cmrc2018/cmrc2018_trial.json", None),
    "drcd_dev": ("drcd/DRCD_dev.json", None),
}


# The news set's own train and dev files share passages (34 of dev's 289: the source split it by
# question); its dev is reported on the passages the training never saw (bench/news_unseen.py).
SHARED_BY_THE_SOURCE = ("news_dev",)


def held_out_check(data_dir: Path, questions) -> dict:
    """Per reported (or calibration) set: its file's sha256, the sha256 of its passages, and how many
    of them the training questions were asked of (compared in simplified script): must be 0."""
    import hashlib

    import opencc

    convert = opencc.OpenCC("t2s").convert
    trained = {convert(q.context) for q in questions}
    out: dict[str, dict] = {}
    for name, (file, cases) in REPORTED.items():
        path = data_dir / file
        if not path.is_file():
            out[name] = {"file": file, "absent": True}
            continue
        paragraphs = [p["context"] for a in json.loads(path.read_text("utf-8"))["data"] for p in a["paragraphs"]]
        if cases:
            paragraphs = paragraphs[cases[0] : cases[1]]
        digest = hashlib.sha256("\n\u0000".join(paragraphs).encode()).hexdigest()
        shared = sum(1 for c in paragraphs if convert(c) in trained)
        out[name] = {
            "file": file,
            "cases": list(cases) if cases else "all",
            "passages": len(paragraphs),
            "passages_sha256": digest,
            "file_sha256": file_sha256(path),
            "shared_with_training": shared,
        }
    return out


def _key(value) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def run(args) -> int:
    import torch
    from safetensors.torch import load_file
    from tqdm import tqdm

    from rag.embedding.build import ensure_built
    from rag.paths import default_cache_dir
    from rag.read.model.lora import merge_into
    from rag.read.model.network import ReaderNetwork
    from rag.train.reader import _optimise

    if not args.init_from:
        print("--shared-norm goes on from a trained reader: give --init-from (e.g. rag/read/model/weights)", file=sys.stderr)
        return 2
    data_dir = Path(args.data)
    missing = [f for f in FILES if not (data_dir / f).is_file()]
    if missing:
        print(f"训练数据缺失 / training data missing under {data_dir}: {', '.join(missing)}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    model_folder = ensure_built(default_cache_dir())
    base = base_hash(model_folder)
    data_hash = {f: file_sha256(data_dir / f) for f in FILES}
    limits = {"cail": args.limit_cail, "news": args.limit_news, "replay": args.limit_replay}
    config = {
        "group_size": args.group_size,
        "groups_per_step": args.groups_per_step,
        "lr": args.shared_lr,
        "warmup": args.shared_warmup,
        "epochs": args.shared_epochs,
        "seed": args.seed,
        "limits": limits,
        "frozen_layers": FROZEN_LAYERS,
        "bf16": args.bf16,
        "cail_split": {"report_cases": CAIL_REPORT_CASES, "calibration_cases": list(CAIL_CALIBRATION_CASES), "train": "dev + test cases 300…"},
    }
    init = Path(args.init_from)
    origin = json.loads((init / "manifest.json").read_text("utf-8")).get("weights_sha256")
    work = Path(args.checkpoint_dir) / ("shared-" + _key([data_hash, config, base, origin, GROUPS_FORMAT]))
    work.mkdir(parents=True, exist_ok=True)
    print(f"checkpoints: {work}")

    maker = WindowMaker(model_folder / "tokenizer.json")
    by_source = training_questions(data_dir, args.seed, limits)
    questions = [q for items in by_source.values() for q in items]
    with tqdm(total=len(questions), desc="groups", unit="q") as bar:
        groups = build_groups(questions, maker, args.seed, size=args.group_size, progress=bar)
    n_windows = sum(len(g.windows) for g in groups)
    unanswerable = sum(1 for g in groups if not g.answerable)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in by_source.items())
    print(f"{len(questions)} questions ({sizes}) → {len(groups)} groups, {n_windows} windows; {unanswerable} unanswerable")

    cfg = json.loads((model_folder / "config.json").read_text("utf-8"))
    net = ReaderNetwork(cfg)
    net.load_bert(load_file(str(model_folder / "model.safetensors")))
    base_state = {k: v.clone() for k, v in net.state_dict().items()}
    previous, adapters = load_trained(net, model_folder, init)
    if adapters:  # the lower blocks as the shipped reader reads: adapters merged (and kept, unchanged)
        merge_into(net.state_dict(), adapters, float(previous["lora"]["scale"]))
    net.to(device)
    for p in net.parameters():
        p.requires_grad_(False)
    upper = [p for b in net.blocks[FROZEN_LAYERS:] for p in b.parameters()] + list(net.span.parameters())
    for p in upper:
        p.requires_grad_(True)
    autocast = device if args.bf16 else None

    def loss_of(rows):
        chosen = [groups[i] for i in rows]
        ids, valid, allowed = Batch([w.window for g in chosen for w in g.windows]).tensors
        ids, valid = ids.to(device), valid.to(device)
        with torch.autocast(autocast or "cpu", dtype=torch.bfloat16, enabled=autocast is not None):
            with torch.no_grad():
                x = net.lower(ids, valid, FROZEN_LAYERS)
            s, e = net.upper(x, valid, FROZEN_LAYERS)
        return group_loss(s, e, allowed.to(device), chosen)

    groups_params = [
        {"params": [p for p in upper if p.dim() == 2], "weight_decay": 0.01, "lr": args.shared_lr},
        {"params": [p for p in upper if p.dim() != 2], "weight_decay": 0.0, "lr": args.shared_lr},
    ]
    step_args = Namespace(**{**vars(args), "batch": args.groups_per_step, "warmup": args.shared_warmup, "max_steps": args.shared_max_steps})
    steps = -(-len(groups) // args.groups_per_step) * args.shared_epochs
    steps = min(steps, args.shared_max_steps) if args.shared_max_steps else steps
    losses, minutes = _optimise(
        net,
        groups_params,
        upper,
        None,
        args.shared_epochs,
        len(groups),
        step_args,
        loss_of,
        work / "train.pt",
        save_state=lambda: {"net": trained_state(net, FROZEN_LAYERS)},
        load_state=lambda state: net.load_state_dict(state["net"], strict=False),
        seed=args.seed + 2000,
        desc="train shared-norm",
    )
    held_out = held_out_check(data_dir, questions)
    if any(v.get("shared_with_training") for k, v in held_out.items() if k not in SHARED_BY_THE_SOURCE):
        print(f"a reported set's passage is among the training questions: {held_out}", file=sys.stderr)
        return 2
    command = "python -m rag train-reader " + " ".join(sys.argv[2:])
    stage = {
        "recipe": config,
        "training_data": {f: {"sha256": h} for f, h in data_hash.items()},
        "questions": {k: len(v) for k, v in by_source.items()},
        "groups": len(groups),
        "steps": steps,
        "groups_seen": min(steps * args.groups_per_step, len(groups) * args.shared_epochs),
        "windows": n_windows,
        "unanswerable_groups": unanswerable,
        "train_minutes": round(minutes, 1),
        "final_loss_last100": round(float(np.mean(losses[-100:])), 4) if losses else None,
        "from_weights_sha256": origin,
        "held_out": held_out,
    }
    manifest = {k: v for k, v in previous.items() if k not in ("weights_sha256", "format", "frozen_layers", "calibration", "figures")}
    manifest.update(
        norm="shared",
        shared_norm=stage,
        command=f"{previous.get('command', '?')} && {command}",
        train_minutes_in_all=round(float(previous.get("train_minutes_in_all", 0.0) or 0.0) + minutes, 1),
        device=device,
    )
    if "shared_norm" in previous:  # a further pass on a shared-norm reader: the earlier passes stay on record
        earlier = {**previous["shared_norm"], "calibration": previous.get("calibration")}
        manifest["shared_norm_earlier"] = [*previous.get("shared_norm_earlier", []), earlier]
    elif "calibration" in previous:
        manifest["calibration_before_shared_norm"] = previous["calibration"]
    path = save(Path(args.out), net.cpu(), base_state, FROZEN_LAYERS, manifest, adapters or None)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and its manifest; calibrate it next: python -m rag calibrate-reader")
    return 0


def add_arguments(parser) -> None:
    parser.add_argument(
        "--shared-norm", action="store_true", help="the shared-norm stage on CAIL 2019, the news set and a replay of CMRC/DRCD (needs --init-from)"
    )
    parser.add_argument("--group-size", type=int, default=3, help="windows per question in the shared-norm stage")
    parser.add_argument("--groups-per-step", type=int, default=8)
    parser.add_argument("--shared-lr", type=float, default=5e-5)
    parser.add_argument("--shared-epochs", type=int, default=1)
    parser.add_argument("--shared-warmup", type=int, default=100)
    parser.add_argument(
        "--shared-max-steps",
        type=int,
        default=None,
        help="stop after this many steps (the learning rate decays to 0 there; resumable, not part of the run's key)",
    )
    parser.add_argument("--limit-cail", type=int, default=None, help="CAIL questions (default all; every near miss kept, answerable ones sampled)")
    parser.add_argument("--limit-news", type=int, default=None, help="news questions (default all)")
    parser.add_argument("--limit-replay", type=int, default=3000, help="CMRC train + DRCD test questions replayed")
