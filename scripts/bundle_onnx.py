"""Make the ONNX graph shipped with a bundled model: ``src/colorize/pretrained/NAME.onnx``.

    python scripts/bundle_onnx.py            # default
    python scripts/bundle_onnx.py --check    # exit 1 if the shipped graph is missing or stale

The graph is the network plus its chroma decode (temperature input) and the encoder features
(reference matching), exported by :func:`colorize.export.export_onnx` from ``NAME.safetensors``. It
carries no weights of its own: its parameters are external data in ``NAME.safetensors`` itself
(``shared_weights``; fp16 there, cast to fp32 in the graph, which computes in fp32), so the package
ships the weights once. Its metadata holds the SHA-256 of that safetensors file
(``colorize_weights_sha256``), so
the package can tell a stale graph (``colorize.models.files.ready_graph``) and
``tests/test_bundled_onnx.py`` fails until this script is run again after the weights change.
Needs the torch and export extras (torch, onnx, onnxruntime); users of the package need neither
torch nor onnx.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv: list[str] | None = None) -> int:
    from colorize.backends import OnnxPredictor
    from colorize.export import compare_with_torch, export_onnx
    from colorize.models.files import GRAPH_DIGEST_KEY, PRETRAINED_DIR, file_sha256, graph_path, weights_paths
    from colorize.models.weights import load_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", nargs="?", default="default", help="bundled model name (default: default)")
    p.add_argument("--check", action="store_true", help="only check that the shipped graph is up to date")
    args = p.parse_args(argv)
    json_path = PRETRAINED_DIR / f"{args.name}.json"
    st = weights_paths(json_path)[0]
    out = graph_path(json_path)
    digest = file_sha256(st)
    if args.check:
        ok = out.is_file() and OnnxPredictor(out).metadata.get(GRAPH_DIGEST_KEY) == digest
        print(f"{out}: {'up to date' if ok else 'MISSING OR STALE: run scripts/bundle_onnx.py'}")
        return 0 if ok else 1
    model, _ = load_model(json_path)
    export_onnx(model, out, overwrite=True, features=model.has_encoder_features, shared_weights=st,
                metadata={GRAPH_DIGEST_KEY: digest, "colorize_weights": st.name,
                          "colorize_precision": "fp32 compute, weights as stored in the safetensors"})
    worst = compare_with_torch(model, out)
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB, its weights read from {st.name}, "
          f"{st.stat().st_size / 1e6:.1f} MB); largest difference vs PyTorch fp32: {worst:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
