"""ONNX export of the colorization network: ``colorize export model.onnx``.

What goes into the graph, and what stays in the Python pipeline:

* **In the graph:** the network *and* its chroma decode. Inputs are ``luma`` (``N x C x H x W``
  float32: the model's normalised luminance in ``[0, 1]``, ``C = 1``, or 4 with the hint channels)
  and, for distribution-head models only, ``temperature`` (a float32 scalar). The output ``chroma``
  (``N x 2 x H/4 x W/4`` for the compact models) is the model's normalised chroma in ``[-1, 1]``,
  i.e. exactly what :meth:`ColorModel.predict_chroma` returns. The annealed mean
  ``softmax(logits / T) @ bin_centres`` is written as a softmax plus a 1x1 convolution, so any
  ONNX runtime runs it fast, and the temperature can change per call without re-exporting.
  Distribution-head graphs also output ``logits`` (``N x Q x h x w``, the head's raw scores over the
  Q ab bins, at the chroma's resolution): suggested colours and the uncertainty map read the
  distribution itself, not its mean (graph version 2; ``chroma`` is unchanged).
  Regression-head models have no ``temperature`` input (their output does not depend on it).
* **In the pipeline:** colour conversion (sRGB -> model luminance, Lab/YUV chroma -> RGB), resizing
  to the render size, guided upsampling of the chroma to full resolution and the gamut-safe
  recombination with the original luminance. They are cheap and resolution-dependent.

Height, width and batch are dynamic (height and width must be multiples of 16, as for PyTorch).
The file is self-contained (no external data) and checked with ``onnx.checker.check_model``, except
with ``shared_weights``: the bundled models' graphs read their parameters from the safetensors file
beside them (ONNX external data, fp16 cast to fp32 in the graph), so the package ships the 11 M
weights once (23 MB) instead of twice (23 MB fp16 + 45 MB fp32).

:func:`cached_onnx_path` gives the export the ``onnxruntime`` backend uses: one file per weights
*content* (SHA-256 of the weights plus everything that shapes the graph) under
``$COLORIZE_CACHE_DIR`` (default ``$XDG_CACHE_HOME/colorize`` or ``~/.cache/colorize``), written on
first use. The package folder is never written to (it may be read-only).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .bins import DEFAULT_TEMPERATURE
from .color import AB_MAX
from .errors import ExportError
from .io import write_text_atomic
from .models import ColorModel
from .models.files import file_sha256
from .runtime import cache_dir

__all__ = [
    "DEFAULT_OPSET",
    "SHARED_WEIGHTS_KEY",
    "ChromaGraph",
    "ExportError",
    "export_onnx",
    "share_weights",
    "cached_onnx_path",
    "cache_dir",
]

DEFAULT_OPSET = 17
SHARED_WEIGHTS_KEY = "colorize_shared_weights"
"""ONNX metadata key: the safetensors file (beside the graph) that a graph reads its parameters from."""
GRAPH_VERSION = 2  # bump when the graph's inputs/outputs or decode change (invalidates caches)
_MULTIPLE = 16


class ChromaGraph(nn.Module):
    """The exported computation: network + decode, ``(luma[, temperature]) -> chroma`` in [-1, 1].

    A distribution head also returns its ``logits`` (second output). With ``features`` the graph also
    returns the model's :meth:`~colorize.models.ColorModel.encoder_features` (outputs ``feature0``,
    ``feature1``, ...), which reference photos' semantic matching uses; they are intermediate tensors
    of the same forward pass.
    """

    def __init__(self, model: ColorModel, features: bool = False) -> None:
        super().__init__()
        self.model = model
        self.features = bool(features)
        self.distribution = model.config.head == "distribution"
        if self.distribution:
            centers = model.head.bin_centers.float() / AB_MAX  # type: ignore[union-attr, operator]  # (Q, 2) normalised ab
            self.decode_weight: Tensor
            self.register_buffer("decode_weight", centers.t().contiguous()[:, :, None, None], persistent=False)

    def forward(self, luma: Tensor, temperature: Tensor | None = None) -> Any:
        out = self.model(luma)
        heads: tuple[Tensor, ...]
        if not self.distribution:
            heads = (out.float(),)
        else:
            assert temperature is not None
            t = torch.clamp(temperature.float(), min=1e-3)  # as bins.annealed_mean
            logits = out.float()
            p = torch.softmax(logits / t, dim=1)
            heads = (F.conv2d(p, self.decode_weight), logits)  # sum_q p_q * centre_q: the annealed mean
        if not self.features:
            return heads[0] if len(heads) == 1 else heads
        return (*heads, *[f.float() for f in self.model.encoder_features(luma)])


def _plain_copy(model: ColorModel) -> ColorModel:
    """An fp32, contiguous-format, eval-mode CPU copy (the caller's model is left alone)."""
    m = copy.deepcopy(model).to("cpu").float().eval()
    return m.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]


def export_onnx(
    model: ColorModel,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
    metadata: dict[str, str] | None = None,
    check: bool = True,
    features: bool = False,
    shared_weights: str | os.PathLike[str] | None = None,
) -> Path:
    """Export ``model`` (network + decode, see the module docstring) to one ``.onnx`` file.

    ``features`` adds the encoder features as extra outputs (``feature0``...; see :class:`ChromaGraph`).
    ``shared_weights`` is a ``.safetensors`` file holding exactly this model's parameters (as
    :func:`~colorize.models.weights.save_model` wrote them) *in the folder of* ``path``: the graph then
    reads them from it when a session opens it (see :func:`share_weights`) instead of carrying a second
    copy, and must stay beside it under that name. Written atomically; ``overwrite=False`` refuses to
    replace an existing file. Raises :class:`ExportError` with a one-line reason on failure. Returns
    the path written.
    """
    out = Path(path)
    if out.is_dir():
        raise ExportError(f"{out}: is a directory")
    if out.exists() and not overwrite:
        raise ExportError(f"{out}: already exists (use --overwrite)")
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the 'onnx' package: pip install onnx onnxruntime") from None
    if features and not model.has_encoder_features:
        raise ExportError(f"{type(model).__name__} has no encoder features to export")
    if shared_weights is not None and Path(shared_weights).resolve().parent != out.resolve().parent:
        raise ExportError(f"{shared_weights}: a graph can share only a weights file in its own folder ({out.parent})")
    # Sharing needs the parameters as the state dict has them: no Conv+BatchNorm folding at export
    # (onnxruntime folds them when it optimizes the graph: the default model's chroma moved by 6e-8).
    data = _export_bytes(model, opset, features, fold=shared_weights is None)
    proto = onnx.load_from_string(data)
    meta = {
        "colorize_graph_version": str(GRAPH_VERSION),
        "colorize_space": model.config.space,
        "colorize_head": model.config.head,
        "colorize_in_channels": str(model.in_channels),
        "colorize_output_stride": str(getattr(model, "output_stride", 1)),
        "colorize_inputs": "luma: N x C x H x W float32 in [0,1] (H, W multiples of 16)"
        + ("; temperature: float32 scalar" if model.config.head == "distribution" else ""),
        "colorize_output": "chroma: N x 2 x h x w float32, normalised model chroma in [-1,1]"
        + ("; logits: N x Q x h x w float32, the ab bins' raw scores" if model.config.head == "distribution" else "")
        + ("; feature0..: the encoder features (reference matching)" if features else ""),
        **(metadata or {}),
    }
    try:
        from ._version import __version__

        meta.setdefault("colorize_version", __version__)
    except ImportError:  # pragma: no cover
        pass
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, str(v)
    proto.producer_name = "colorize"
    if check:
        try:
            onnx.checker.check_model(proto, full_check=True)
        except Exception as exc:  # onnx.checker.ValidationError, shape inference errors
            raise ExportError(f"exported graph failed onnx.checker: {str(exc).splitlines()[0]}") from None
    if shared_weights is not None:
        share_weights(proto, shared_weights)
    blob = proto.SerializeToString()
    if len(blob) >= 2**31 - 1:  # protobuf limit; our models are far below it
        raise ExportError(f"model too large for a single-file ONNX export ({len(blob) / 2**30:.1f} GiB)")
    _atomic_write(out, blob, overwrite)
    return out


def share_weights(proto: Any, safetensors_path: str | os.PathLike[str]) -> int:
    """Point ``proto``'s parameters at the tensors of a safetensors file (in place); returns how many.

    Each initializer named ``model.KEY`` whose file tensor ``KEY`` holds exactly the same values
    becomes ONNX external data at that tensor's byte range of the file (safetensors is an 8-byte
    header length, a JSON header, then the raw little-endian tensors, which is what external data
    addresses), cast to fp32 by a ``Cast`` node when the file stores fp16. Anything else (the
    decode's constants) stays inline. A tensor with the name but other values raises
    :class:`ExportError`: the file is not this model's weights.
    """
    import struct

    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    path = Path(safetensors_path)
    try:
        raw = path.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + n])
    except (OSError, ValueError, struct.error) as exc:
        raise ExportError(f"{path}: not a readable safetensors file ({exc})") from None
    kinds = {"F16": (TensorProto.FLOAT16, np.float16), "F32": (TensorProto.FLOAT, np.float32)}
    kept, casts, shared = [], [], 0
    for init in proto.graph.initializer:
        entry = header.get(init.name.removeprefix("model."))
        if not isinstance(entry, dict) or entry.get("dtype") not in kinds or init.data_type != TensorProto.FLOAT:
            kept.append(init)
            continue
        begin, end = (8 + n + int(o) for o in entry["data_offsets"])
        onnx_type, np_type = kinds[entry["dtype"]]
        stored = np.frombuffer(raw[begin:end], dtype=np_type).reshape(entry["shape"])
        if not np.array_equal(stored.astype(np.float32), numpy_helper.to_array(init)):
            raise ExportError(f"{path}: tensor {init.name.removeprefix('model.')} differs from the model's (not this model's weights)")
        ext = TensorProto(name=init.name if onnx_type == TensorProto.FLOAT else f"{init.name}.fp16", data_type=onnx_type,
                          dims=list(init.dims), data_location=TensorProto.EXTERNAL)
        for key, value in (("location", path.name), ("offset", str(begin)), ("length", str(end - begin))):
            ext.external_data.add(key=key, value=value)
        kept.append(ext)
        if onnx_type != TensorProto.FLOAT:
            casts.append(helper.make_node("Cast", [ext.name], [init.name], to=TensorProto.FLOAT, name=f"{init.name}.cast"))
        shared += 1
    if not shared:
        raise ExportError(f"{path}: none of its tensors is a parameter of this graph (not this model's weights)")
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    nodes = casts + list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
    entry_meta = proto.metadata_props.add()
    entry_meta.key, entry_meta.value = SHARED_WEIGHTS_KEY, path.name
    return shared


def _export_bytes(model: ColorModel, opset: int, features: bool = False, fold: bool = True) -> bytes:
    graph = ChromaGraph(_plain_copy(model), features=features).eval()
    c = model.in_channels
    luma = torch.rand(1, c, 64, 96)
    if c > 1:
        luma[:, 1:] = 0  # no hints
    args: tuple[Tensor, ...] = (luma,)
    names = ["luma"]
    if graph.distribution:
        args = (luma, torch.tensor(DEFAULT_TEMPERATURE, dtype=torch.float32))
        names.append("temperature")
    outputs = ["chroma"]
    axes = {"luma": {0: "batch", 2: "height", 3: "width"}, "chroma": {0: "batch", 2: "out_height", 3: "out_width"}}
    if graph.distribution:
        outputs.append("logits")
        axes["logits"] = {0: "batch", 2: "out_height", 3: "out_width"}
    if features:
        with torch.no_grad():
            taps = len(graph.model.encoder_features(luma))
        for i in range(taps):
            outputs.append(f"feature{i}")
            axes[f"feature{i}"] = {0: "batch", 2: f"feature{i}_height", 3: f"feature{i}_width"}
    f = io.BytesIO()
    errors = []
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter; correctness is checked by tests/verify
        try:  # the TorchScript exporter: needs only `onnx`, handles our dynamic shapes
            torch.onnx.export(
                graph, args, f,  # type: ignore[arg-type]  # a BytesIO works: one file, no external data
                dynamo=False, opset_version=opset, input_names=names, output_names=outputs,
                dynamic_axes=axes, do_constant_folding=fold,
                # PRESERVE (the model is in eval mode) exports BatchNorm as it is, not folded into the convs
                training=torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE,
            )
            return f.getvalue()
        except Exception as exc:  # e.g. a future torch without the legacy exporter
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        if not fold:  # the torch.export-based exporter folds as it likes: no parameters to share
            raise ExportError("ONNX export with shared weights failed (" + "; ".join(errors) + ")")
        try:  # the torch.export-based exporter (needs `onnxscript`)
            dims = {0: torch.export.Dim("batch", min=1, max=1024), 2: 16 * torch.export.Dim("h16", min=1, max=1024),
                    3: 16 * torch.export.Dim("w16", min=1, max=1024)}
            shapes: Any = (dims, None) if graph.distribution else (dims,)
            prog = torch.onnx.export(graph, args, dynamo=True, opset_version=opset, input_names=names,
                                     output_names=outputs, dynamic_shapes=shapes, external_data=False, verbose=False)
            f = io.BytesIO()
            prog.save(f)  # type: ignore[union-attr, arg-type]
            return f.getvalue()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    raise ExportError("ONNX export failed (" + "; ".join(errors) + ")")


def _atomic_write(out: Path, data: bytes, overwrite: bool) -> None:
    """Through :func:`colorize.io.atomic_write`: an ordinary file mode (not 0600), never half-written."""
    from .io import atomic_write

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, lambda fh: fh.write(data), overwrite=overwrite)
    except FileExistsError:
        raise ExportError(f"{out}: already exists (use --overwrite)") from None
    except OSError as exc:
        raise ExportError(f"{out}: cannot write ({exc.strerror or exc})") from None


# ----------------------------------------------------------------------------- cache for the onnxruntime backend


def _code_fingerprint() -> str:
    """Hash of the source that shapes the graph (architectures, this file, torch version)."""
    h = hashlib.sha256(f"graph{GRAPH_VERSION} torch{torch.__version__}".encode())
    here = Path(__file__).parent
    for p in sorted((here / "models").glob("*.py")) + [here / "export.py", here / "bins.py"]:
        try:
            h.update(p.name.encode() + p.read_bytes())
        except OSError:  # pragma: no cover
            pass
    return h.hexdigest()


def weights_fingerprint(model: ColorModel, weights_path: str | os.PathLike[str] | None = None) -> str:
    """SHA-256 of the weights file (when known) or of the model's tensors, plus its config."""
    import dataclasses

    h = hashlib.sha256(json.dumps(dataclasses.asdict(model.config), sort_keys=True, default=str).encode())
    h.update(type(model).__name__.encode())
    st = None
    if weights_path is not None:
        from .models.weights import weights_paths

        st = weights_paths(weights_path)[0]
    if st is not None and st.is_file():
        with open(st, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    else:
        for k, v in model.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().to("cpu").contiguous().numpy().tobytes() if v.dtype != torch.bfloat16 else v.float().numpy().tobytes())
    return h.hexdigest()


def cached_onnx_path(model: ColorModel, weights_path: str | os.PathLike[str] | None = None, *, opset: int = DEFAULT_OPSET) -> Path:
    """The ONNX file for these weights, exported into the cache on first use (then reused)."""
    key = hashlib.sha256(f"{weights_fingerprint(model, weights_path)}:{_code_fingerprint()}:{opset}".encode()).hexdigest()[:20]
    stem = Path(weights_path).stem if weights_path is not None else "model"
    path = cache_dir() / "onnx" / f"{stem}-{key}.onnx"
    digest_path = path.with_suffix(".onnx.sha256")
    if path.is_file() and digest_path.is_file() and digest_path.read_text().strip() == file_sha256(path):
        return path
    if path.exists():  # truncated, corrupt, or from before digests were kept: rebuild instead of failing every run
        warnings.warn(f"{path}: cached ONNX export failed its check; exporting it again", RuntimeWarning, stacklevel=2)
    export_onnx(model, path, opset=opset, overwrite=True,
                metadata={"colorize_weights": str(weights_path or ""), "colorize_cache_key": key})
    write_text_atomic(digest_path, file_sha256(path) + "\n")
    return path


# ----------------------------------------------------------------------------- verification and CLI


def compare_with_torch(model: ColorModel, onnx_path: str | os.PathLike[str], sizes: Sequence[tuple[int, int]] = ((64, 96), (96, 64)),
                       temperature: float = DEFAULT_TEMPERATURE) -> float:
    """Largest absolute chroma difference (normalised units) between onnxruntime and PyTorch fp32."""
    from .backends import OnnxPredictor

    runner = OnnxPredictor(onnx_path)
    ref = _plain_copy(model)
    has_features = runner.has_encoder_features
    worst = 0.0
    gen = torch.Generator().manual_seed(0)
    for h, w in sizes:
        x = torch.rand(2, model.in_channels, h, w, generator=gen)
        if model.in_channels > 1:
            x[:, 1:] = 0
        with torch.no_grad():
            want = ref.predict_chroma(x, temperature=temperature)
        got = runner.predict_chroma(x.numpy(), temperature=temperature)
        if got.shape != tuple(want.shape):
            raise ExportError(f"onnxruntime output shape {tuple(got.shape)} != PyTorch {tuple(want.shape)} for input {h}x{w}")
        worst = max(worst, float(abs(got - want.numpy()).max()))
        if runner.has_logits:  # raw scores: compared relative to their size
            with torch.no_grad():
                want_l = ref(x).float().numpy()
            got_l = runner.predict_logits(x.numpy())
            worst = max(worst, float(abs(got_l - want_l).max()) / max(1.0, float(abs(want_l).max())))
        if has_features:
            with torch.no_grad():
                want_f = ref.encoder_features(x)
            for g, t in zip(runner.encoder_features(x.numpy()), want_f):
                worst = max(worst, float(abs(g - t.numpy()).max()))
    return worst


