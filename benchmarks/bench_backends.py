"""Forward-pass time of the colorization network per backend, at the default render size.

    python benchmarks/bench_backends.py                       # compact architecture, 192x256 input
    python benchmarks/bench_backends.py --model default --size 192x256 --repeat 50
    nice -n 10 python benchmarks/bench_backends.py --json     # machine-readable

Each row times what the pipeline's ``predict_uv`` runs per photo: the network plus the chroma decode
(annealed mean for distribution models) on one ``1 x C x H x W`` input, after warm-up. Rows:

* ``torch eager fp32``            -- contiguous (NCHW) memory format
* ``torch eager fp32 + CL``       -- channels_last
* ``torch eager bf16 + CL``       -- bf16 autocast + channels_last (the torch backend's choice on CPUs with AVX512-BF16/AMX)
* ``torch.compile fp32/bf16 + CL``-- inductor (skipped with --no-compile, or if it fails)
* ``onnxruntime fp32``            -- the exported graph (colorize.export), CPU provider

The fastest row is printed last; the CLI's ``--backend auto`` rule (colorize.backends.resolve_backend) was
chosen from this measurement. Numbers are medians; p10/p90 show the spread (a busy machine
widens it). Thread counts: torch.get_num_threads() for both torch and onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _summary(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    q = lambda f: times[min(len(times) - 1, int(f * len(times)))]  # noqa: E731
    return {"median_ms": statistics.median(times), "p10_ms": q(0.1), "p90_ms": q(0.9), "min_ms": times[0]}


def _load(model_arg: str):
    from colorize.models import create_model, list_models

    if model_arg in {e.name for e in list_models()}:
        torch.manual_seed(0)
        return create_model(model_arg).eval(), None, f"{model_arg} (random weights)"
    from colorize.models.weights import load_model
    from colorize.models.registry import resolve_weights

    path = resolve_weights(model_arg)
    model, info = load_model(path)
    return model.eval(), path, f"{model_arg} ({info.get('arch')})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="compact", help="architecture name (random weights) or bundled name / weights path (default: compact)")
    p.add_argument("--size", default="192x256", help="HxW of the network input (default: 192x256 = render size 256 for 4:3)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--temperature", type=float, default=0.38)
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile rows (compiling takes minutes on a busy CPU)")
    p.add_argument("--threads", default=None, help="comma-separated thread counts to sweep, e.g. 1,2 (default: torch's default)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    counts = [int(v) for v in args.threads.split(",")] if args.threads else [torch.get_num_threads()]
    all_rows: list[dict[str, object]] = []
    for n in counts:
        torch.set_num_threads(n)
        all_rows += _bench(args, n, label_threads=len(counts) > 1)
    return _report(args, all_rows)


def _bench(args: argparse.Namespace, threads: int, label_threads: bool) -> list[dict[str, object]]:
    """Warm every backend up, then time them round-robin, so all see the same background load."""
    h, w = (int(v) for v in args.size.lower().split("x"))
    model, _, label = _load(args.model)
    x = torch.rand(1, model.in_channels, h, w)
    if model.in_channels > 1:
        x[:, 1:] = 0
    t = args.temperature
    rows: list[dict[str, object]] = []
    ready: list[tuple[str, Callable[[], object], str]] = []

    def tag(name: str) -> str:
        return f"{name} ({threads}T)" if label_threads else name

    def add(name: str, make: Callable[[], Callable[[], object]]) -> None:
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn = make()
                for _ in range(args.warmup):
                    fn()
        except Exception as exc:  # a backend that does not work here is a row, not a crash
            rows.append({"backend": tag(name), "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"})
            return
        setup = time.perf_counter() - t0
        ready.append((tag(name), fn, f"setup+warm-up {setup:.0f} s" if setup > 5 else ""))

    import copy

    fp32 = copy.deepcopy(model)
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)

    def eager(m, inp, bf16: bool) -> Callable[[], Callable[[], object]]:
        def run():
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return m.predict_chroma(inp, temperature=t)
        return lambda: run

    def compiled(bf16: bool) -> Callable[[], Callable[[], object]]:
        def make():
            m = copy.deepcopy(cl)
            c = torch.compile(m)
            return lambda: _compiled_call(c, m, x_cl, t, bf16)
        return make

    def onnxruntime() -> Callable[[], object]:
        from colorize.export import export_onnx
        from colorize.backends import OnnxPredictor

        with tempfile.TemporaryDirectory() as tmp:
            runner = OnnxPredictor(export_onnx(model, Path(tmp) / "model.onnx"), threads=threads)
        return lambda: runner.predict_chroma(x, temperature=t)

    add("torch eager fp32", eager(fp32, x, False))
    add("torch eager fp32 + CL", eager(cl, x_cl, False))
    add("torch eager bf16 + CL", eager(cl, x_cl, True))
    if not args.no_compile:
        add("torch.compile fp32 + CL", compiled(False))
        add("torch.compile bf16 + CL", compiled(True))
    add("onnxruntime fp32", onnxruntime)

    times: dict[str, list[float]] = {name: [] for name, _, _ in ready}
    for _ in range(args.repeat):
        for name, fn, _ in ready:
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000)
    for name, _, note in ready:
        r = _summary(times[name])
        rows.append({"backend": name, **{k: round(v, 2) for k, v in r.items()}, "note": note})
        if not args.json:
            print(f"  {name:<28} {r['median_ms']:8.2f} ms", file=sys.stderr)

    global _META
    _META = _meta(model, label, h, w)
    return rows


_META: dict[str, object] = {}


def _meta(model, label: str, h: int, w: int) -> dict[str, object]:
    meta = {
        "model": label, "params_M": round(model.num_parameters() / 1e6, 2), "input": f"1x{model.in_channels}x{h}x{w}",
        "torch": torch.__version__, "cpu": _cpu_name(), "cores": os.cpu_count(),
        "bf16_cpu": _has_flag("avx512_bf16") or _has_flag("amx_bf16"), "niceness": os.nice(0),
        "load_avg": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    try:
        import onnxruntime

        meta["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return meta


def _report(args: argparse.Namespace, rows: list[dict[str, object]]) -> int:
    meta = _META
    ok = [r for r in rows if "median_ms" in r and "compile" not in str(r["backend"])]  # compile: per-process cost
    fastest = min(ok, key=lambda r: r["median_ms"])["backend"] if ok else None  # type: ignore[arg-type,return-value]
    if args.json:
        print(json.dumps({"meta": meta, "rows": rows, "fastest": fastest}, indent=2))
        return 0
    print(f"\nmodel {meta['model']}, {meta['params_M']} M params, input {meta['input']}, torch {meta['torch']}, "
          f"onnxruntime {meta.get('onnxruntime', '-')}, {meta['cpu']} ({meta['cores']} cores), "
          f"nice {meta['niceness']}, load avg {meta['load_avg']:.1f}")
    print(f"\n| {'backend':<28} | {'median ms':>9} | {'min':>7} | {'p10':>7} | {'p90':>7} | note")
    print(f"|{'-' * 30}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 9}|------")
    for r in rows:
        if "error" in r:
            print(f"| {r['backend']:<28} | {'-':>9} | {'-':>7} | {'-':>7} | {'-':>7} | {r['error']}")
        else:
            print(f"| {r['backend']:<28} | {r['median_ms']:>9.2f} | {r['min_ms']:>7.2f} | {r['p10_ms']:>7.2f} | {r['p90_ms']:>7.2f} | {r.get('note', '')}")
    print(f"\nfastest without a per-process compile step (by median): {fastest}")
    return 0


def _compiled_call(compiled, model, x, t, bf16):
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return model.head.decode(compiled(x), t)


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def _has_flag(flag: str) -> bool:
    try:
        return flag in open("/proc/cpuinfo").read()
    except OSError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
