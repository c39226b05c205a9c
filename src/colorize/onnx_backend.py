"""The ``onnxruntime`` backend: run the exported network (see :mod:`colorize.export`) instead of PyTorch.

``Colorizer.from_pretrained(name, backend="onnxruntime")`` (or ``colorize photo.jpg --backend
onnxruntime``) exports the weights to the cache on first use (keyed by the weights' SHA-256) and
runs that file with onnxruntime's CPU provider. Only the network's forward pass and chroma decode
move; everything else in the pipeline is unchanged, so outputs match the fp32 PyTorch backend
(chroma differences below 1e-6; see ``tests/test_export.py``).

``backend="auto"`` -- the rule, from ``benchmarks/bench_backends.py`` (docs/web.md has the table):

1. ``COLORIZE_BACKEND=torch|onnxruntime`` wins (for machines where a re-measurement disagrees);
2. a non-CPU device (CUDA) -> ``torch``;
3. a CPU with native bf16 dot products (AVX512-BF16 or AMX; the same test, and the same
   ``COLORIZE_BF16`` override, as the torch backend's bf16 autocast) -> ``torch``: bf16 autocast with
   channels_last was the fastest measured (1.4-1.6x faster than onnxruntime fp32 at equal threads);
4. otherwise ``onnxruntime`` when ``onnxruntime`` and ``onnx`` are installed: in fp32 it was as fast
   as PyTorch eager fp32 or faster at equal threads (1.0-1.4x), and 2.7-9x faster when the cores
   were oversubscribed (OpenMP threads stall there); else ``torch``;
5. if the export fails, fall back to PyTorch with a warning.

``torch.compile`` is not offered: it helps bf16 further, but costs ~40 s of compilation per process
(and again for every new input shape, i.e. every new aspect ratio).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnxruntime")

__all__ = ["BACKENDS", "OnnxChromaRunner", "resolve_backend", "onnxruntime_available", "runner_for_model"]


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def resolve_backend(backend: str, device: torch.device | str = "cpu") -> str:
    """``auto`` -> ``onnxruntime`` or ``torch`` by the rule in the module docstring; others checked."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device).type
    if backend == "auto":
        forced = os.environ.get("COLORIZE_BACKEND", "").strip().lower()
        if forced in ("torch", "onnxruntime"):
            backend = forced
        else:
            if dev != "cpu" or _cpu_has_fast_bf16():
                return "torch"
            return "onnxruntime" if onnxruntime_available() else "torch"
    if backend == "onnxruntime":
        if dev != "cpu":
            raise ValueError(f"the onnxruntime backend runs on the CPU; got device {dev!r} (use --device cpu)")
        if not onnxruntime_available():
            raise ValueError("the onnxruntime backend needs 'onnxruntime' and 'onnx': pip install onnx onnxruntime")
    return backend


def _cpu_has_fast_bf16() -> bool:
    from .pipeline import _cpu_has_fast_bf16 as has_bf16

    return has_bf16()


class OnnxChromaRunner:
    """An onnxruntime session with the model's ``predict_chroma`` interface (torch in, torch out)."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "luma" not in inputs:
            raise ValueError(f"{path}: not a colorize ONNX export (no 'luma' input)")
        self.takes_temperature = "temperature" in inputs
        self.in_channels = inputs["luma"].shape[1] if isinstance(inputs["luma"].shape[1], int) else None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def run(self, luma: np.ndarray, temperature: float = 0.38) -> np.ndarray:
        feeds: dict[str, Any] = {"luma": np.ascontiguousarray(luma, dtype=np.float32)}
        if self.takes_temperature:
            feeds["temperature"] = np.asarray(temperature, dtype=np.float32)
        return self.session.run(["chroma"], feeds)[0]

    def predict_chroma(self, x: Tensor, temperature: float = 0.38) -> Tensor:
        """Same contract as :meth:`ColorModel.predict_chroma`: normalised chroma (N, 2, h, w)."""
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.run(arr, temperature))


def runner_for_model(model: Any, weights_path: str | os.PathLike[str] | None = None, *, required: bool = True) -> OnnxChromaRunner | None:
    """Export (cached) and open ``model``; with ``required=False`` a failure warns and returns None."""
    from .export import cached_onnx_path

    try:
        return OnnxChromaRunner(cached_onnx_path(model, weights_path))
    except Exception as exc:
        if required:
            raise
        warnings.warn(f"onnxruntime backend unavailable ({exc}); using PyTorch", RuntimeWarning, stacklevel=2)
        return None
