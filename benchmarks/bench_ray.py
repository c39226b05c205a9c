"""Photos on Ray against the local command (issue 17). Prints a Markdown table.

    python benchmarks/bench_ray.py [--photos 200] [--size 640x480] [--workers 1 2] [--model default] [--no-fault]

Every run is the real command from the shell, cold (``python -m colorize DIR -o OUT -q [--ray --workers N]``),
on a temporary folder of gray JPEGs made here (random smooth images: the content does not change the
speed). Measured per run: wall time, images/s over the whole run, the overhead against the local run,
the time to the first output file (seen by polling the output folder), and the rate after that first
output (the steady state, start-up excluded). The fault run SIGKILLs one Ray model worker once a fifth
of the outputs exist, then checks that every output exists exactly once, decodes, and that the command
still succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def make_photos(folder: Path, n: int, size: tuple[int, int]) -> None:
    """Random smooth gray photos (low-frequency noise upsampled, plus grain), JPEG q90."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    for i in range(n):
        small = (rng.random((h // 32 + 2, w // 32 + 2)) * 255).astype(np.uint8)
        base = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)
        arr = np.clip(base + rng.normal(0, 4, (h, w)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"photo_{i:04d}.jpg", quality=90)


def visible(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")] if folder.exists() else []


def worker_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if b"_PhotoWorker" in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def run(src: Path, out: Path, n: int, model: str, extra: list[str], kill_at: int | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "colorize", str(src), "-o", str(out), "-m", model, "--json", "-q", *extra]
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first: float | None = None
    killed: dict = {}
    while proc.poll() is None:
        count = len(visible(out))
        if first is None and count:
            first = time.time() - t0
        if kill_at is not None and not killed and count >= kill_at:
            pids = worker_pids()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed = {"pid": pids[0], "outputs_then": count, "at_s": round(time.time() - t0, 1)}
        time.sleep(0.02)
    wall = time.time() - t0
    stdout, stderr = proc.communicate()
    summary = json.loads(stdout) if stdout.strip().startswith("{") else {}
    if first is None:
        first = wall
    return {"wall": wall, "first": first, "code": proc.returncode, "summary": summary, "stderr": stderr[-2000:], "killed": killed,
            "stdout_head": "" if summary else stdout[:2000],
            "steady": (n - 1) / max(1e-6, wall - first) if n > 1 else float("nan")}


def check_outputs(src: Path, out: Path) -> tuple[bool, str]:
    """Every input has exactly one output, nothing else is there under a final name, and each decodes."""
    want = sorted(p.name for p in src.iterdir())
    have = sorted(p.name for p in visible(out))
    if have != want:
        return False, f"{len(have)} outputs for {len(want)} inputs (missing {sorted(set(want) - set(have))[:3]})"
    for p in visible(out):
        with Image.open(p) as im:
            im.load()
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    return True, f"all {len(have)} once, all decode" + (f"; {len(hidden)} hidden temp file(s) of the killed worker left" if hidden else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--model", default="default")
    ap.add_argument("--no-fault", action="store_true")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="bench_ray_") as tmp:
        src = Path(tmp) / "photos"
        make_photos(src, a.photos, (w, h))
        rows = []
        local = run(src, Path(tmp) / "local", a.photos, a.model, [])
        rows.append(("local CLI", local))
        for n in a.workers:
            rows.append((f"--ray --workers {n}", run(src, Path(tmp) / f"ray{n}", a.photos, a.model, ["--ray", "--workers", str(n)])))
        fault = None
        if not a.no_fault:
            out = Path(tmp) / "fault"
            fault = run(src, out, a.photos, a.model, ["--ray", "--workers", "2"], kill_at=max(1, a.photos // 5))
            fault["check"] = check_outputs(src, out)
        print(f"{a.photos} photos of {w}x{h} (gray JPEG), model {a.model!r}, {os.cpu_count()} CPU(s), cold runs from the shell\n")
        print("| run | exit | wall (s) | images/s | overhead vs local | first result (s) | images/s after the first |")
        print("|---|---|---|---|---|---|---|")
        for name, r in rows:
            ok = r["summary"].get("ok", "?")
            over = "" if r is local else f"{(r['wall'] / local['wall'] - 1) * 100:+.0f} %"
            print(f"| {name} | {r['code']} ({ok} ok) | {r['wall']:.1f} | {a.photos / r['wall']:.1f} | {over} | {r['first']:.1f} | {r['steady']:.1f} |")
            if r["code"] not in (0,):
                print(f"<!-- {name} stderr: {r['stderr'][-500:]} -->")
        if fault is not None:
            k = fault["killed"]
            print(f"\nfault run (--ray --workers 2): SIGKILL of worker pid {k.get('pid')} at {k.get('at_s')} s with "
                  f"{k.get('outputs_then')} of {a.photos} outputs written; exit {fault['code']}, "
                  f"{fault['summary'].get('ok', '?')} ok / {fault['summary'].get('failed', '?')} failed, wall {fault['wall']:.1f} s; "
                  f"outputs: {fault['check'][1]}" + ("" if fault["check"][0] else "  ** FAILED **"))
            if not k:
                print("(the job ended before a worker could be killed: use more --photos)")


if __name__ == "__main__":
    main()
