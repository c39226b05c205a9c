"""Where the model runs: device choice, the bf16 probe and the autocast context (one home for each).

bf16 autocast only pays off on CPUs with native bf16 dot products (AVX512-BF16 or AMX); elsewhere
it is slower than fp32, so the probe decides, and ``COLORIZE_BF16=0|1`` overrides it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnxruntime
    import torch

DEFAULT_TEMPERATURE = 0.38
"""Annealed-mean temperature when neither the model nor the user sets one (Zhang et al. pick 0.38).

Here, in a leaf without torch, so the options (and the onnxruntime path) can use it; :mod:`colorize.bins`
(the decode itself) re-exports it."""


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when PyTorch sees a GPU, else the CPU; an explicit CUDA request without a GPU fails."""
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = torch.device(device)
    if d.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU")
    return d


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 dot products (AVX512-BF16 or AMX), or ``COLORIZE_BF16=1``."""
    if os.environ.get("COLORIZE_BF16") in ("0", "1"):
        return os.environ["COLORIZE_BF16"] == "1"
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        return False


def uses_bf16(device: torch.device) -> bool:
    """Whether inference on ``device`` runs under bf16 autocast (always on CUDA, on CPUs by the probe)."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())


def inference_context(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    """``no_grad`` plus bf16 autocast on ``device`` when ``bf16``: the one way the torch backend runs a model."""
    import torch

    stack = contextlib.ExitStack()
    stack.enter_context(torch.no_grad())
    stack.enter_context(torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16))
    return stack


def cache_dir() -> Path:
    """``$COLORIZE_CACHE_DIR``, else ``$XDG_CACHE_HOME/colorize``, else ``~/.cache/colorize``.

    The package folder is never written to (it may be read-only); everything derived goes here."""
    if os.environ.get("COLORIZE_CACHE_DIR"):
        return Path(os.environ["COLORIZE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "colorize"


def cpu_signature() -> str:
    """This CPU's model name and feature flags (Linux), else what :mod:`platform` knows: what an
    onnxruntime graph optimized for this CPU depends on."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f.read().splitlines() if ln.startswith(("model name", "flags", "Features", "CPU part"))]
        if lines:
            return "\n".join(dict.fromkeys(lines))  # the first core's lines (all cores repeat them)
    except OSError:
        pass
    import platform

    return f"{platform.machine()} {platform.processor()}"


def cpu_threads() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


_blas_lock = threading.Lock()
_blas_state: dict[str, Any] = {"controller": None, "holders": 0, "limit": None, "original": None}


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """At most ``n`` BLAS threads inside this block, for the whole process (threadpoolctl).

    Many small BLAS calls in a row (the consensus decode's 2 x 64 banded matrix products) ran 20 ms on
    a quiet 2-core machine with OpenBLAS's two threads, but 1.3-2.0 s while another process kept the
    cores busy: every call waits for a thread the OS has descheduled. With one thread they take 23 ms
    either way. The limit is process-wide, so overlapping blocks (web requests, the hints' thread
    pool) are counted: the lowest limit asked for holds until the last block ends, which restores the
    count found before the first. The controller is made once (0.7 ms), each block then costs ~30 us.
    """
    from threadpoolctl import ThreadpoolController

    with _blas_lock:
        state = _blas_state
        if state["controller"] is None:
            state["controller"] = ThreadpoolController()
        if state["holders"] == 0 or n < state["limit"]:
            limiter = state["controller"].limit(limits=n, user_api="blas")
            if state["holders"] == 0:
                state["original"] = limiter
            state["limit"] = n
        state["holders"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            state["holders"] -= 1
            if state["holders"] == 0:
                state["original"].restore_original_limits()
                state["original"] = state["limit"] = None


@contextlib.contextmanager
def blas_split_pool(workers: int = 2) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``workers`` threads for numpy work whose BLAS calls share the cores between them.

    numpy's LAPACK, matmul and ufunc calls release the GIL, so a few Python threads can each take a
    part of the work; but OpenBLAS would give every call all the cores again, and its idle threads
    busy-wait, so two threads each with OpenBLAS's two were slower than one (the hints' solve at
    256 x 192 on 2 cores: 0.61-0.89 s, against 0.26-0.37 s with one BLAS thread each). Inside this
    block each gets ``cpu_threads() // workers`` (threadpoolctl); the old count comes back after.
    """
    with blas_threads(max(1, cpu_threads() // workers)), ThreadPoolExecutor(workers) as pool:
        yield pool


def onnx_session(path: str | os.PathLike[str], options: onnxruntime.SessionOptions) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session for ``path``, its full graph optimization done once per machine.

    Optimizing (``ORT_ENABLE_ALL``: fusions, constant folding, the CPU's blocked conv layout) is
    about half of opening the default graph, paid by every cold ``colorize photo.jpg``; so the
    optimized graph (self-contained, 45 MB in fp32) is saved in :func:`cache_dir` ``/ort``, keyed by
    the file and the weights it reads (path, size, mtime), the onnxruntime version and :func:`cpu_signature` (the blocked layout is CPU-specific), and later
    sessions open it with optimization off. The outputs are bit-identical. ``COLORIZE_GRAPH_CACHE=0``
    turns it off; a cache that cannot be written or read is skipped (and a bad entry rewritten).
    """
    import tempfile

    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if os.environ.get("COLORIZE_GRAPH_CACHE") == "0":
        return ort.InferenceSession(str(path), options, providers=providers)
    src = Path(path).resolve()
    # The key follows the graph and the weights file beside it (a bundled graph reads its parameters
    # from NAME.safetensors), so new weights under an old graph file never reuse the old optimized copy.
    stamps = [f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in (src, src.with_suffix(".safetensors")) if p.is_file()]
    key = hashlib.sha256(f"{':'.join(stamps)}:{ort.__version__}:{cpu_signature()}".encode()).hexdigest()[:20]
    cached = cache_dir() / "ort" / f"{src.stem}-{key}.onnx"
    if cached.is_file():
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), options, providers=providers)
        except Exception:  # truncated or damaged by something else: optimize again and replace it
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.name}.", suffix=".tmp")
        os.close(fd)
    except OSError:  # a read-only or full cache: optimize in memory, as without the cache
        return ort.InferenceSession(str(src), options, providers=providers)
    options.optimized_model_filepath = tmp
    try:
        session = ort.InferenceSession(str(src), options, providers=providers)
    except Exception:  # saving may be what failed (a full disk): once more without it; a bad graph fails again
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        options.optimized_model_filepath = ""
        return ort.InferenceSession(str(src), options, providers=providers)
    try:
        os.replace(tmp, cached)  # atomic: a concurrent run sees no entry or the whole file
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _prune_graph_cache(cached.parent, src.stem)
    return session


GRAPH_CACHE_KEEP = 4
"""Optimized graphs kept per model file name (the newest): each is as large as the model (45 MB for the default)."""


def _prune_graph_cache(folder: Path, stem: str, keep: int = GRAPH_CACHE_KEEP) -> None:
    """Remove all but the ``keep`` newest cached graphs of ``stem``: every new install, onnxruntime
    upgrade or re-exported model adds an entry, and without this the cache only grew. A removed
    entry still in use elsewhere is optimized again there once (about a second)."""
    import re

    pattern = re.compile(rf"{re.escape(stem)}-[0-9a-f]+\.onnx")  # the key; another model's stem has a "-"
    entries = []
    for path in folder.glob(f"{stem}-*.onnx"):
        if pattern.fullmatch(path.name):
            with contextlib.suppress(OSError):
                entries.append((path.stat().st_mtime_ns, path))
    for _, path in sorted(entries, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            path.unlink()


__all__ = ["DEFAULT_TEMPERATURE", "blas_split_pool", "cache_dir", "cpu_has_fast_bf16", "cpu_signature", "cpu_threads", "inference_context", "onnx_session",
           "pick_device", "uses_bf16"]
