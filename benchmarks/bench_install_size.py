"""Install size of the default dependencies, with and without PyTorch (issue 15: target < 150 MB).

    python benchmarks/bench_install_size.py [--pyproject pyproject.toml] [--keep] [--json out.json]

Reads ``[project] dependencies`` (and ``[project.optional-dependencies]``) from ``pyproject.toml`` with
``tomllib``, so it reports whatever the pyproject says today, and for each set creates a fresh venv
under a temp dir (``python -m venv --without-pip``), installs the set into it with this
interpreter's pip (``pip --python VENV/bin/python install ...``, pip's configured indexes, the
repository's ``constraints.txt`` when present) and prints the ``du`` of the venv's site-packages:

* **default**: the ``dependencies`` list alone (no extras, and not the project itself: its own
  wheel adds the package and its bundled weights);
* **default + torch**: plus the ``torch`` extra when the pyproject has one, else plus ``torch``
  (when the default list already holds torch the two sets are the same, and the table says so);
* **default without torch** (only while the default list still holds torch): the list minus torch
  plus the ``export`` extra (onnx, onnxruntime): what a torch-free default would weigh;
* **colorize-bw itself**: the project's wheel (built here with ``pip wheel --no-deps``) installed
  with its default dependencies: what ``pip install colorize-bw`` really puts in a venv, bundled
  weights included (``--no-project`` skips it);
* any ``--set LABEL=REQ,REQ`` given on the command line (e.g. a planned default list).

The venvs are removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def req_name(req: str) -> str:
    """The normalised distribution name of a requirement string (``"torch>=2.2; ..."`` -> ``"torch"``)."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else req


def dependency_sets(pyproject: Path) -> list[tuple[str, list[str], str]]:
    """[(label, requirements, note)] from the pyproject's [project] table."""
    project = tomllib.loads(pyproject.read_text())["project"]
    default = list(project.get("dependencies", []))
    extras = project.get("optional-dependencies", {})
    has_torch = any(req_name(r) == "torch" for r in default)
    sets = [("default", default, "[project] dependencies" + (" (includes torch)" if has_torch else ""))]
    if "torch" in extras:
        sets.append(("default + torch", default + list(extras["torch"]), "dependencies + the [torch] extra"))
    elif has_torch:
        sets.append(("default + torch", default, "same set: the default list already holds torch"))
    else:
        sets.append(("default + torch", default + ["torch"], "dependencies + torch (no [torch] extra in the pyproject)"))
    if has_torch:
        no_torch = [r for r in default if req_name(r) != "torch"]
        no_torch += [r for r in extras.get("export", []) if req_name(r) not in {req_name(x) for x in no_torch}]
        sets.append(("default without torch", no_torch, "dependencies - torch + the [export] extra (onnx, onnxruntime)"))
    return sets


def du_mb(path: Path) -> float:
    """``du -sk`` of ``path`` in MB (10^6 bytes), as the issue measures it."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) * 1024 / 1e6


def biggest(site: Path, n: int = 5) -> list[tuple[str, float]]:
    sizes = [(p.name, du_mb(p)) for p in site.iterdir() if p.is_dir() and not p.name.endswith((".dist-info", "__pycache__"))]
    return sorted(sizes, key=lambda x: -x[1])[:n]


def install(venv: Path, reqs: list[str], constraints: Path | None) -> tuple[Path, float, list[str]]:
    """Fresh venv + ``pip install`` of ``reqs``; returns (site-packages, seconds, installed distributions)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    cmd = [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-input", "--disable-pip-version-check", "-q"]
    if constraints is not None:
        cmd += ["-c", str(constraints)]
    t = time.perf_counter()
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"pip install failed for {reqs}:\n{proc.stderr.strip()[-3000:]}")
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    dists = sorted(p.name.removesuffix(".dist-info") for p in site.glob("*.dist-info"))
    return site, dt, dists


def build_wheel(project: Path, out: Path) -> Path:
    """The project's wheel (C kernel compiled when a compiler is there), as a release would ship it."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(project)],
                          capture_output=True, text=True)
    wheels = sorted(out.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        raise SystemExit(f"building the project's wheel failed:\n{proc.stderr.strip()[-3000:]}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="install size of the default dependencies, with and without torch")
    p.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    p.add_argument("--constraints", type=Path, default=None, help="constraints file (default: constraints.txt beside the pyproject, if any)")
    p.add_argument("--set", action="append", default=[], metavar="LABEL=REQ[,REQ...]",
                   help="also measure this set (e.g. a planned default: 'numpy+onnxruntime=numpy,pillow,onnxruntime,rich')")
    p.add_argument("--keep", action="store_true", help="keep the venvs (their paths are printed)")
    p.add_argument("--no-project", action="store_true", help="do not build and measure the project's own wheel")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    constraints = args.constraints or (args.pyproject.parent / "constraints.txt")
    constraints = constraints if constraints.is_file() else None

    tmp = Path(tempfile.mkdtemp(prefix="bench_install_size_"))
    results = []
    try:
        sets = dependency_sets(args.pyproject)
        if not args.no_project:
            wheel = build_wheel(args.pyproject.parent, tmp / "wheel")
            print(f"wheel {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
            sets.append(("colorize-bw itself", [str(wheel)], f"the project's wheel ({wheel.stat().st_size / 1e6:.1f} MB) "
                         "with its default dependencies"))
        for spec in args.set:
            label, _, reqs_s = spec.partition("=")
            sets.append((label, [r.strip() for r in reqs_s.split(",") if r.strip()], "given with --set"))
        for i, (label, reqs, note) in enumerate(sets):
            same = next((r for r in results if r["requirements"] == reqs), None)
            if same is not None:  # an identical set (e.g. torch already in the default list): not installed twice
                results.append({**same, "set": label, "note": note})
                continue
            site, secs, dists = install(tmp / f"venv{i}", reqs, constraints)
            mb = du_mb(site)
            results.append({"set": label, "note": note, "requirements": reqs, "site_packages_mb": mb, "install_s": secs,
                            "distributions": dists, "biggest": biggest(site), "site_packages": str(site)})
            print(f"{label}: {mb:.0f} MB ({len(dists)} distributions, {secs:.0f} s)", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nPython {sys.version.split()[0]}, pip's configured indexes"
          + (f", constraints {constraints.name}" if constraints else "") + f", pyproject {args.pyproject}\n")
    print("| install | site-packages (du) | distributions | largest | what |")
    print("|---|---|---|---|---|")
    for r in results:
        big = ", ".join(f"{n} {mb:.0f}" for n, mb in r["biggest"][:3])
        print(f"| {r['set']} | {r['site_packages_mb']:.0f} MB | {len(r['distributions'])} | {big} | {r['note']}: {' '.join(r['requirements'])} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
