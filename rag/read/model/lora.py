"""Low-rank adapters (LoRA, through peft) on the reader's lower blocks.

The second training stage (rag/train/reader.py) lets the lower blocks, frozen in the first stage, adapt too:
each of their six matrices gets a rank-r update B·A (peft's LoRA layers), trained with the upper
blocks and the head. Only A and B are shipped (a few hundred thousand numbers); at load time the
update is merged into the base matrix (`merge_into`), so inference costs nothing extra and needs
no peft.
"""

from __future__ import annotations

MODULES = ("query", "key", "value", "attn_out", "ffn_in", "ffn_out")


def targets(layers: int) -> list[str]:
    return [f"blocks.{i}.{m}" for i in range(layers) for m in MODULES]


def add_adapters(network, layers: int, rank: int, alpha: float, dropout: float):
    """Wrap the matrices of the first `layers` blocks in peft LoRA layers (B starts at zero)."""
    from peft import LoraConfig, inject_adapter_in_model

    # peft annotates lora_alpha as int but scales by alpha / r in float: a float alpha is fine
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets(layers), bias="none")  # type: ignore[arg-type]
    return inject_adapter_in_model(config, network)


def adapter_state(network) -> dict:
    """{"blocks.3.query.lora_A": (r, in), "blocks.3.query.lora_B": (out, r), ...} from a peft-wrapped network."""
    out = {}
    for name, value in network.named_parameters():
        for part in ("lora_A", "lora_B"):
            marker = f".{part}.default.weight"
            if name.endswith(marker):
                out[name[: -len(marker)] + "." + part] = value.detach().cpu()
    return out


def load_adapter_state(network, state: dict) -> None:
    """Put a saved `adapter_state` back into a peft-wrapped network (resuming a checkpoint)."""
    import torch

    params = dict(network.named_parameters())
    with torch.no_grad():
        for key, value in state.items():
            module, part = key.rsplit(".", 1)
            params[f"{module}.{part}.default.weight"].copy_(value)


def merge_into(state: dict, adapters: dict, scale: float) -> None:
    """Add scale·B·A to each adapted matrix of a plain (unwrapped) network's state dict, in place."""
    import torch

    with torch.no_grad():
        for key in adapters:
            if key.endswith(".lora_A"):
                module = key[: -len(".lora_A")]
                a, b = adapters[key].float(), adapters[module + ".lora_B"].float()
                weight = state[module + ".weight"]
                weight.add_((b @ a * scale).to(weight.dtype))
