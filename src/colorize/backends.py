"""Who runs the network: a small predictor protocol and its two implementations.

:class:`Colorizer <colorize.pipeline.Colorizer>` is given a predictor (as diffusers is given its
ONNX components) and never asks which one it has:

* :class:`TorchPredictor` -- the PyTorch model on a device, channels_last on CPUs, bf16 autocast
  where it pays off (:mod:`colorize.runtime`);
* :class:`OnnxPredictor` -- the exported network (:mod:`colorize.export`) in onnxruntime's CPU
  provider. Only the forward pass and chroma decode move; outputs match fp32 PyTorch (chroma
  differences below 1e-6).

``backend="auto"`` picks by :func:`resolve_backend`; the measurements behind the rule are in
``docs/web.md`` ("Backends"). ``torch.compile`` is not offered (docs/web.md says why).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from . import runtime
from .bins import DEFAULT_TEMPERATURE
from .runtime import inference_context, pick_device

if TYPE_CHECKING:
    from .models import ColorModel

BACKENDS = ("auto", "torch", "onnxruntime")


@runtime_checkable
class ChromaPredictor(Protocol):
    """What the pipeline needs from a network: normalised chroma for the model's input.

    ``x`` is (N, in_channels, h, w): the model luma, plus 3 hint channels when ``takes_hints``.
    """

    @property
    def name(self) -> str: ...  # "torch" or "onnxruntime"

    @property
    def device(self) -> torch.device: ...

    @property
    def in_channels(self) -> int: ...

    @property
    def takes_hints(self) -> bool: ...

    def predict_chroma(self, x: Tensor, temperature: float = DEFAULT_TEMPERATURE) -> Tensor: ...


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def resolve_backend(backend: str, device: torch.device | str = "cpu") -> str:
    """``auto`` -> ``onnxruntime`` or ``torch``; explicit names are checked.

    The rule: ``COLORIZE_BACKEND=torch|onnxruntime`` wins; a CUDA device -> torch; a CPU with native
    bf16 (AVX512-BF16/AMX, or ``COLORIZE_BF16=1``) -> torch (bf16 autocast was fastest); otherwise
    onnxruntime when installed (fp32 onnxruntime beat fp32 eager PyTorch), else torch.
    """
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
            if dev != "cpu" or runtime.cpu_has_fast_bf16():
                return "torch"
            return "onnxruntime" if onnxruntime_available() else "torch"
    if backend == "onnxruntime":
        if dev != "cpu":
            raise ValueError(f"the onnxruntime backend runs on the CPU; got device {dev!r} (use --device cpu)")
        if not onnxruntime_available():
            raise ValueError("the onnxruntime backend needs 'onnxruntime' and 'onnx': pip install onnx onnxruntime")
    return backend


class TorchPredictor:
    """A PyTorch :class:`~colorize.models.ColorModel` on ``device`` (``"auto"``: CUDA if present)."""

    name = "torch"

    def __init__(self, model: ColorModel, device: str | torch.device = "auto") -> None:
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.use_bf16 = runtime.uses_bf16(self.device)

    @property
    def in_channels(self) -> int:
        return int(self.model.in_channels)

    @property
    def takes_hints(self) -> bool:
        return bool(self.model.config.hints)

    def _prepare(self, x: Tensor) -> Tensor:
        x = x.to(self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.device.type == "cpu" else x

    def predict_chroma(self, x: Tensor, temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
        with inference_context(self.device, self.use_bf16):
            return self.model.predict_chroma(self._prepare(x), temperature=temperature).float()

    def encoder_features(self, x: Tensor) -> list[Tensor]:
        """The model's :meth:`~colorize.models.ColorModel.encoder_features`, in fp32 on the CPU."""
        with torch.no_grad():
            return [t.float().cpu() for t in self.model.encoder_features(x.to(self.device))]


class OnnxPredictor:
    """An onnxruntime session with the model's ``predict_chroma`` interface (torch in, torch out)."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.path = Path(path)
        self.device = torch.device("cpu")
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "luma" not in inputs:
            raise ValueError(f"{path}: not a colorize ONNX export (no 'luma' input)")
        self.takes_temperature = "temperature" in inputs
        channels = inputs["luma"].shape[1]
        self.in_channels = channels if isinstance(channels, int) else 1
        self.takes_hints = self.in_channels == 4

    def run(self, luma: np.ndarray, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
        feeds: dict[str, Any] = {"luma": np.ascontiguousarray(luma, dtype=np.float32)}
        if self.takes_temperature:
            feeds["temperature"] = np.asarray(temperature, dtype=np.float32)
        return self.session.run(["chroma"], feeds)[0]

    def predict_chroma(self, x: Tensor, temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
        """Same contract as :meth:`ColorModel.predict_chroma`: normalised chroma (N, 2, h, w)."""
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.run(arr, temperature))


__all__ = ["BACKENDS", "ChromaPredictor", "OnnxPredictor", "TorchPredictor", "onnxruntime_available", "resolve_backend"]
