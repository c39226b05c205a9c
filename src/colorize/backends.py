"""Who runs the network: a small predictor protocol and its two implementations.

:class:`Colorizer <colorize.pipeline.Colorizer>` is given a predictor (as diffusers is given its
ONNX components) and never asks which one it has:

* :class:`OnnxPredictor` -- the network and its chroma decode as an ONNX graph (:mod:`colorize.export`)
  in onnxruntime's CPU provider. The bundled default model ships as ``pretrained/default.onnx``, so
  the default install needs no PyTorch. Outputs match fp32 PyTorch (chroma differences below 1e-5).
* :class:`TorchPredictor` -- the PyTorch model on a device, channels_last on CPUs, bf16 autocast
  where it pays off (:mod:`colorize.runtime`); needs the ``[torch]`` extra.

The protocol is numpy: ``predict_chroma`` takes and returns float32 NCHW arrays, so the pipeline
around the network never touches torch; :class:`TorchPredictor` converts at its boundary (the
network stays on the GPU for GPU users). This module imports torch only inside
:class:`TorchPredictor` and :func:`resolve_backend`'s CUDA question.

``backend="auto"`` picks by :func:`resolve_backend`; the measurements behind the rule are in
``docs/web.md`` ("Backends"). ``torch.compile`` is not offered (docs/web.md says why).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from . import runtime
from .errors import ColorizeError
from .runtime import DEFAULT_TEMPERATURE

if TYPE_CHECKING:
    import torch

    from .models import ColorModel

BACKENDS = ("auto", "torch", "onnxruntime")
TORCH_EXTRA_HINT = "pip install 'colorize-bw[torch]'"
"""What to install for the PyTorch side (``--backend torch``, own checkpoints, training)."""


class TorchMissingError(ColorizeError, ImportError):
    """Something that needs PyTorch was asked for in an install without it (one line naming the extra)."""


def torch_available() -> bool:
    """Whether PyTorch can be imported (checked without importing it: that takes a second)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a broken or blocked torch install
        return False


def require_torch(what: str) -> None:
    """Raise :class:`TorchMissingError` ("WHAT needs the torch extra: pip install ...") unless torch imports."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise TorchMissingError(f"{what} needs PyTorch, which is not installed (the torch extra: {TORCH_EXTRA_HINT})") from None


@runtime_checkable
class ChromaPredictor(Protocol):
    """What the pipeline needs from a network: normalised chroma for the model's input.

    ``x`` is a float32 numpy array (N, in_channels, h, w): the model luma, plus 3 hint channels when
    ``takes_hints``; the result is the normalised chroma, float32 numpy (N, 2, h', w').
    """

    @property
    def name(self) -> str: ...  # "torch" or "onnxruntime"

    @property
    def device(self) -> Any: ...  # str() is the device's name ("cpu", "cuda:0")

    @property
    def in_channels(self) -> int: ...

    @property
    def takes_hints(self) -> bool: ...

    def predict_chroma(self, x: np.ndarray, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray: ...


def onnxruntime_available(*, export: bool = False) -> bool:
    """Whether onnxruntime is installed (``export``: and ``onnx``, which exporting a graph needs)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return False
    return not export or importlib.util.find_spec("onnx") is not None


def _device_type(device: Any) -> str:
    name = str(device)
    if name == "auto":
        if not torch_available():
            return "cpu"
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return name.split(":")[0]


def resolve_backend(backend: str, device: Any = "cpu", *, graph: bool = False) -> str:
    """``auto`` -> ``onnxruntime`` or ``torch``; explicit names are checked.

    ``graph`` says a ready ONNX graph of the weights exists (the bundled models ship one). The rule:
    ``COLORIZE_BACKEND=torch|onnxruntime`` wins; an explicit CUDA device -> torch; with a ready
    graph, or without PyTorch -> onnxruntime (no torch import: a cold start is dominated by it);
    otherwise (own checkpoints) a CPU with native bf16 (AVX512-BF16/AMX, or ``COLORIZE_BF16=1``) ->
    torch (bf16 autocast was fastest), else onnxruntime when onnx and onnxruntime are installed (the
    graph is exported into the cache once; fp32 onnxruntime beat fp32 eager PyTorch), else torch.
    ``device="auto"`` with a ready graph means the CPU (asking torch about CUDA would import it).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend == "auto":
        forced = os.environ.get("COLORIZE_BACKEND", "").strip().lower()
        if forced in ("torch", "onnxruntime"):
            backend = forced
        elif str(device) == "auto" and (graph or not torch_available()) and onnxruntime_available():
            return "onnxruntime"
        else:
            dev = _device_type(device)
            if dev != "cpu":
                return "torch"
            if (graph or not torch_available()) and onnxruntime_available():
                return "onnxruntime"
            if runtime.cpu_has_fast_bf16():
                return "torch"
            return "onnxruntime" if onnxruntime_available(export=True) else "torch"
    if backend == "onnxruntime" and str(device) == "auto":
        dev = "cpu"  # onnxruntime runs on the CPU: asking torch about CUDA would import it (seconds)
    else:
        dev = _device_type(device)
    if backend == "onnxruntime":
        if dev != "cpu":
            raise ValueError(f"the onnxruntime backend runs on the CPU; got device {dev!r} (use --device cpu)")
        if not onnxruntime_available():
            raise ValueError("the onnxruntime backend needs 'onnxruntime': pip install onnxruntime")
    return backend


class TorchPredictor:
    """A PyTorch :class:`~colorize.models.ColorModel` on ``device`` (``"auto"``: CUDA if present).

    numpy in, numpy out (:class:`ChromaPredictor`); the tensors live on ``device`` only inside."""

    name = "torch"

    def __init__(self, model: ColorModel, device: str | torch.device = "auto") -> None:
        import torch

        self.device = runtime.pick_device(device)
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

    def _prepare(self, x: Any) -> torch.Tensor:
        import torch

        t = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32)) if isinstance(x, np.ndarray) else x.float()
        t = t.to(self.device)
        return t.contiguous(memory_format=torch.channels_last) if self.device.type == "cpu" else t

    def predict_chroma(self, x: np.ndarray, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
        with runtime.inference_context(self.device, self.use_bf16):
            out = self.model.predict_chroma(self._prepare(x), temperature=temperature)
        return out.float().cpu().numpy()

    @property
    def has_logits(self) -> bool:
        """Whether :meth:`predict_logits` has bins to give (distribution-head models)."""
        return self.model.config.head == "distribution"

    def predict_logits(self, x: np.ndarray) -> np.ndarray:
        """The distribution head's raw logits over the ab bins (N, Q, h, w), fp32 numpy (suggested colours,
        uncertainty). Computed in fp32 whatever the autocast: a bf16 softmax over 262 bins is banded."""
        if not self.has_logits:
            raise ValueError("a regression-head model predicts one colour per pixel, not a distribution over colours")
        with runtime.inference_context(self.device, self.use_bf16):
            out = self.model(self._prepare(x))
        return out.float().cpu().numpy()

    def encoder_features(self, x: np.ndarray) -> list[np.ndarray]:
        """The model's :meth:`~colorize.models.ColorModel.encoder_features`, fp32 numpy on the CPU."""
        import torch

        with torch.no_grad():
            return [t.float().cpu().numpy() for t in self.model.encoder_features(self._prepare(x))]


class OnnxPredictor:
    """An onnxruntime session with the model's ``predict_chroma`` interface (numpy in, numpy out).

    A graph exported with encoder features (``export_onnx(..., features=True)``) also answers
    :meth:`encoder_features` (reference photos' semantic matching); one with a ``logits`` output (every
    distribution-head export since graph version 2) answers :meth:`predict_logits`."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or 0)  # 0: onnxruntime's default, one per physical core
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # No busy-waiting between runs: onnxruntime's idle threads otherwise spin on the cores that the
        # numpy decode and the C colour join need right after each run (measured here: the forward
        # 118 -> 85 ms and the consensus after it 26-54 -> 20 ms on 2 cores).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        self.device = "cpu"
        try:
            self.session = runtime.onnx_session(path, opts)  # fully optimized, from the per-machine cache after the first run
        except Exception as exc:
            missing = re.search(r'External data path does not exist: "?([^"\n]+)', str(exc))
            if missing is None:
                raise
            # A bundled graph reads its parameters from the safetensors it was exported beside (one copy of
            # the weights in the package): say which file is missing rather than onnxruntime's traceback.
            raise ValueError(f"{path}: its weights file {Path(missing.group(1)).name} is not beside it (the graph reads its "
                             "parameters from it: keep the two files together, under their names)") from None
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "luma" not in inputs:
            raise ValueError(f"{path}: not a colorize ONNX export (no 'luma' input)")
        self.takes_temperature = "temperature" in inputs
        channels = inputs["luma"].shape[1]
        self.in_channels = channels if isinstance(channels, int) else 1
        self.takes_hints = self.in_channels == 4
        outputs = [o.name for o in self.session.get_outputs()]
        self.feature_outputs = [n for n in outputs if n.startswith("feature")]
        self.has_logits = "logits" in outputs
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    @property
    def has_encoder_features(self) -> bool:
        return bool(self.feature_outputs)

    def _feeds(self, luma: Any, temperature: float) -> dict[str, Any]:
        if hasattr(luma, "detach"):  # a torch tensor from an older caller
            luma = luma.detach().float().cpu().numpy()
        feeds: dict[str, Any] = {"luma": np.ascontiguousarray(luma, dtype=np.float32)}
        if self.takes_temperature:
            feeds["temperature"] = np.asarray(temperature, dtype=np.float32)
        return feeds

    def run(self, luma: np.ndarray, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
        return self.session.run(["chroma"], self._feeds(luma, temperature))[0]

    def predict_chroma(self, x: np.ndarray, temperature: float = DEFAULT_TEMPERATURE) -> np.ndarray:
        """Same contract as :meth:`ColorModel.predict_chroma`: normalised chroma (N, 2, h, w), float32 numpy."""
        return self.run(x, temperature)

    def predict_logits(self, x: np.ndarray) -> np.ndarray:
        """The distribution head's logits over the ab bins (N, Q, h, w), as :meth:`TorchPredictor.predict_logits`."""
        if not self.has_logits:
            raise ValueError(f"{self.path}: this ONNX graph has no 'logits' output (a regression-head model, or an export "
                             "from before graph version 2: export it again)")
        return self.session.run(["logits"], self._feeds(x, DEFAULT_TEMPERATURE))[0]

    def encoder_features(self, x: np.ndarray) -> list[np.ndarray]:
        """The encoder taps the graph was exported with (fp32 numpy), as ``ColorModel.encoder_features``."""
        if not self.feature_outputs:
            raise ValueError(f"{self.path}: this ONNX graph was exported without encoder features")
        return list(self.session.run(self.feature_outputs, self._feeds(x, DEFAULT_TEMPERATURE)))


__all__ = ["BACKENDS", "ChromaPredictor", "OnnxPredictor", "TorchMissingError", "TorchPredictor", "onnxruntime_available",
           "require_torch", "resolve_backend", "torch_available"]
