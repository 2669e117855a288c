"""A knowledge base's own settings: `settings.json` in its folder (the index folder).

It holds values of `Settings` fields by their dotted names (`retrieval.dense_weight`,
`reader_min_margin`, `min_confidence`, …), written by `rag calibrate --from-log` (or by hand), with
where each value came from. They override the built-in defaults and the environment's deployment
defaults for this knowledge base only; a command-line flag still wins (rag/bases/registry.py applies
them). Writes are atomic: a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.store.base import write_text_durably

SETTINGS_FILE = "settings.json"
# the fields a knowledge base may set for itself, and the type each takes
FITTABLE: dict[str, type] = {
    "retrieval.dense_weight": float,
    "retrieval.fusion": str,
    "retrieval.top_k": int,
    "min_confidence": float,
    "reader_min_margin": float,
    "reader_support_weight": float,
    "reader_passage_weight": float,
    "reader": str,
}


def read_fitted(folder: Path) -> dict[str, Any]:
    """The values `folder/settings.json` sets ({} when there is none); ConfigError naming the file
    when it is unreadable or sets a field it may not."""
    path = Path(folder) / SETTINGS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"knowledge-base settings {path} cannot be read ({exc}): fix or remove the file") from exc
    values = raw.get("values", {}) if isinstance(raw, dict) else None
    if not isinstance(values, dict):
        raise ConfigError(f'knowledge-base settings {path}: expected {{"values": {{...}}}}')
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = FITTABLE.get(name)
        if kind is None:
            raise ConfigError(f"knowledge-base settings {path}: {name!r} cannot be set per knowledge base (allowed: {', '.join(FITTABLE)})")
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
        elif kind is int and isinstance(value, int) and not isinstance(value, bool):
            out[name] = value
        elif kind is str and isinstance(value, str):
            out[name] = value
        else:
            raise ConfigError(f"knowledge-base settings {path}: {name} must be a {kind.__name__}, not {value!r}")
    return out


def read_provenance(folder: Path) -> dict[str, Any]:
    """Where each value came from (`{"field": {...}}`), as the writer recorded it."""
    try:
        raw = json.loads((Path(folder) / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    prov = raw.get("provenance", {}) if isinstance(raw, dict) else {}
    return prov if isinstance(prov, dict) else {}


def write_fitted(folder: Path, values: dict[str, Any], provenance: dict[str, Any] | None = None) -> Path:
    """Set `values` (dotted field names of FITTABLE) in `folder/settings.json`, keeping the other
    fields it sets; `provenance` (per field: how it was chosen, from how many questions, when) is
    recorded beside them. Atomic."""
    unknown = [k for k in values if k not in FITTABLE]
    if unknown:
        raise ConfigError(f"cannot be set per knowledge base: {', '.join(unknown)}")
    folder = Path(folder)
    current = read_fitted(folder)
    prov = read_provenance(folder)
    current.update(values)
    prov.update(provenance or {})
    path = folder / SETTINGS_FILE
    tmp = folder / f".{SETTINGS_FILE}.{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        write_text_durably(tmp, [json.dumps({"values": current, "provenance": prov}, ensure_ascii=False, indent=2)])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
