"""The weights files without PyTorch: their paths, their JSON, the bundled models and their ONNX graphs.

Everything the onnxruntime path needs to find and describe a model lives here, so loading the bundled
default model imports no torch (:mod:`colorize.models.registry` and :mod:`colorize.models.weights`,
which build and fill the networks, re-export these names).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..errors import WeightsError

FORMAT = "colorize-weights/1"
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
"""The package's bundled weights (``NAME.json`` + ``NAME.safetensors``, and the graph ``NAME.onnx``)."""
GRAPH_DIGEST_KEY = "colorize_weights_sha256"
"""ONNX metadata key: the SHA-256 of the safetensors file a graph was exported from (staleness check)."""


def weights_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``x``, ``x.json`` or ``x.safetensors`` -> (safetensors path, json path)."""
    p = Path(path)
    if p.is_dir():
        candidates = sorted(p.glob("*.json"))
        if len(candidates) != 1:
            raise WeightsError(f"{p}: expected exactly one model .json in the folder, found {len(candidates)}")
        p = candidates[0]
    stem = p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def read_model_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON side of a weights file, validated."""
    _, json_path = weights_paths(path)
    if not json_path.is_file():
        raise WeightsError(f"{json_path}: no such model config file")
    try:
        info = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{json_path}: not a valid model config ({exc})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT or "arch" not in info:
        raise WeightsError(f"{json_path}: not a colorize model config (format {FORMAT!r} expected)")
    return info


def resolve_weights(name_or_path: str | os.PathLike[str]) -> Path:
    """``"default"`` or another bundled name -> its JSON in the package; otherwise a path."""
    p = Path(name_or_path)
    if p.suffix in (".json", ".safetensors") or p.is_dir() or p.exists() or p.with_suffix(".json").exists():
        return p
    bundled = PRETRAINED_DIR / f"{name_or_path}.json"
    if bundled.is_file():
        return bundled
    available = sorted(x.stem for x in PRETRAINED_DIR.glob("*.json"))
    raise WeightsError(f"{name_or_path}: no such weights file or bundled model (bundled: {', '.join(available) or 'none'})")


def list_pretrained() -> list[dict[str, Any]]:
    """The JSON of every bundled weights file, each with its ``name`` (for ``colorize models``)."""
    out = []
    for p in sorted(PRETRAINED_DIR.glob("*.json")):
        info = read_model_info(p)
        info["name"] = p.stem
        out.append(info)
    return out


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def graph_path(weights: str | os.PathLike[str]) -> Path:
    """Where the ONNX graph shipped with a weights file lives: ``NAME.onnx`` next to ``NAME.json``."""
    return weights_paths(weights)[1].with_suffix(".onnx")


def ready_graph(weights: str | os.PathLike[str], recorded_digest: str | None) -> Path | None:
    """The graph next to ``weights`` if it was exported from exactly these weights, else None.

    ``recorded_digest`` is the graph's :data:`GRAPH_DIGEST_KEY` metadata (the caller reads it from the
    session it opens anyway); a graph whose digest differs from the safetensors beside it is stale.
    Without the safetensors (an inference-only copy) the graph is taken as it is.
    """
    onnx = graph_path(weights)
    if not onnx.is_file():
        return None
    st = weights_paths(weights)[0]
    if st.is_file() and recorded_digest != file_sha256(st):
        return None
    return onnx


__all__ = ["FORMAT", "GRAPH_DIGEST_KEY", "PRETRAINED_DIR", "file_sha256", "graph_path", "list_pretrained", "read_model_info",
           "ready_graph", "resolve_weights", "weights_paths"]
