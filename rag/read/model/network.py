"""The reader network: e5-small's BERT encoder, written out in torch, plus a span head.

The encoder is the same computation as transformers' BertModel (post-LayerNorm blocks, GELU,
absolute positions), written here so that it can be run in two parts: the frozen lower layers
once (their outputs cached while training), the trained upper layers on top. The span head maps
each token to a start and an end logit; the first token ([CLS]) stands for "no answer"
(SQuAD 2.0 style).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.ffn_in, self.ffn_out = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, h, d // h).transpose(1, 2)

        a = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=mask)
        x = self.attn_norm(x + self.attn_out(a.transpose(1, 2).reshape(b, n, d)))
        return self.out_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


# our block's parameter names → the BERT checkpoint's, per layer
_BLOCK_NAMES = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attn_out": "attention.output.dense",
    "attn_norm": "attention.output.LayerNorm",
    "ffn_in": "intermediate.dense",
    "ffn_out": "output.dense",
    "out_norm": "output.LayerNorm",
}


class ReaderNetwork(nn.Module):
    def __init__(self, config: dict) -> None:
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], hidden)
        self.position = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type = nn.Embedding(config["type_vocab_size"], hidden)
        self.embed_norm = nn.LayerNorm(hidden, eps=eps)
        self.blocks = nn.ModuleList(Block(hidden, config["num_attention_heads"], config["intermediate_size"], eps) for _ in range(config["num_hidden_layers"]))
        self.embed_words: Callable[[torch.Tensor], torch.Tensor] | None = None  # inference: a row lookup replacing `word` (see loading.py)
        self.span = nn.Linear(hidden, 2)
        nn.init.normal_(self.span.weight, std=0.02)
        nn.init.zeros_(self.span.bias)

    def attention_mask(self, valid: torch.Tensor) -> torch.Tensor:
        """(batch, tokens) of 1/0 → an additive mask SDPA broadcasts over heads and queries."""
        dtype = self.embed_norm.weight.dtype
        return torch.zeros(valid.shape, dtype=dtype, device=valid.device).masked_fill(valid == 0, -1e4)[:, None, None, :]

    def lower(self, ids: torch.Tensor, valid: torch.Tensor, layers: int) -> torch.Tensor:
        """Hidden states after the first `layers` blocks."""
        positions = torch.arange(ids.shape[1], device=ids.device)[None, :]
        words = self.word(ids) if self.embed_words is None else self.embed_words(ids).to(self.embed_norm.weight.dtype)
        x = self.embed_norm(words + self.position(positions) + self.token_type(torch.zeros_like(ids)))
        mask = self.attention_mask(valid)
        for block in self.blocks[:layers]:
            x = block(x, mask)
        return x

    def upper(self, x: torch.Tensor, valid: torch.Tensor, layers: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits from hidden states after `layers` blocks; padding gets -inf-ish."""
        mask = self.attention_mask(valid)
        for block in self.blocks[layers:]:
            x = block(x, mask)
        logits = self.span(x).float()
        logits = logits.masked_fill((valid == 0)[..., None], -1e4)
        return logits[..., 0], logits[..., 1]

    def forward(self, ids: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.upper(self.lower(ids, valid, 0), valid, 0)

    def load_bert(self, state: dict[str, torch.Tensor]) -> None:
        """Load a BertModel checkpoint (names as in model.safetensors of the e5 build)."""
        mine = {
            "word.weight": "embeddings.word_embeddings.weight",
            "position.weight": "embeddings.position_embeddings.weight",
            "token_type.weight": "embeddings.token_type_embeddings.weight",
            "embed_norm.weight": "embeddings.LayerNorm.weight",
            "embed_norm.bias": "embeddings.LayerNorm.bias",
        }
        for i in range(len(self.blocks)):
            for ours, theirs in _BLOCK_NAMES.items():
                for part in ("weight", "bias"):
                    mine[f"blocks.{i}.{ours}.{part}"] = f"encoder.layer.{i}.{theirs}.{part}"
        own = self.state_dict()
        with torch.no_grad():
            for ours, theirs in mine.items():
                own[ours].copy_(state[theirs])


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
