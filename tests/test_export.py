"""ONNX export round trip and the onnxruntime backend (issue #7, part 3)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from colorize.export import ExportError, cached_onnx_path, export_onnx  # noqa: E402
from colorize.models import create_model  # noqa: E402
from colorize.models.weights import load_model  # noqa: E402
from colorize.backends import OnnxPredictor, resolve_backend  # noqa: E402
from colorize.pipeline import Colorizer  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def cache(tmp_path_factory):
    """One export cache for the module (never ~/.cache in tests), and one torch thread: OpenMP with
    2 threads collapses when a busy machine is oversubscribed (see benchmarks/bench_backends.py)."""
    path = tmp_path_factory.mktemp("cache")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLORIZE_CACHE_DIR", str(path))
        yield path
    torch.set_num_threads(before)


def _torch_chroma(model, x, temperature):
    with torch.no_grad():
        return model.float().eval().predict_chroma(x, temperature=temperature)


def _check_round_trip(model, path, sizes=((64, 96), (96, 64)), temperatures=(0.38,)):
    runner = OnnxPredictor(path)
    gen = torch.Generator().manual_seed(1)
    for h, w in sizes:
        x = torch.rand(2, model.in_channels, h, w, generator=gen)
        if model.in_channels > 1:
            x[:, 1:] = 0
            x[0, 1:3, 8:11, 8:11] = 0.3  # one hint patch
            x[0, 3, 8:11, 8:11] = 1
        for t in temperatures:
            want = _torch_chroma(model, x, t)
            got = torch.from_numpy(runner.predict_chroma(x.numpy(), temperature=t))  # the predictor protocol is numpy
            assert got.shape == want.shape == (2, 2, h // 4, w // 4)
            assert float((got - want).abs().max()) < 1e-4, (h, w, t)


def test_a_graph_can_read_its_parameters_from_the_safetensors_beside_it(tiny_hint_model_path, tiny_model_path, tmp_path):
    """shared_weights: the package's one copy of the weights. The graph holds only the structure; its
    parameters are byte ranges of the safetensors file, and it runs as the self-contained export does."""
    import shutil

    from colorize.export import SHARED_WEIGHTS_KEY
    from colorize.models.files import weights_paths

    model, _ = load_model(tiny_hint_model_path)
    st = tmp_path / "hints.safetensors"
    shutil.copy(weights_paths(tiny_hint_model_path)[0], st)
    out = export_onnx(model, tmp_path / "hints.onnx", shared_weights=st, features=True)
    whole = export_onnx(model, tmp_path / "whole" / "hints.onnx", features=True)
    assert out.stat().st_size < 0.05 * whole.stat().st_size
    proto = onnx.load(str(out), load_external_data=False)
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    # every parameter the graph holds (the exporter merges equal tensors, e.g. a fresh BatchNorm's ones and zeros)
    assert len(external) > 30 and all(t in external for t in proto.graph.initializer if t.name.startswith("model."))
    assert {d.value for t in external for d in t.external_data if d.key == "location"} == {"hints.safetensors"}
    assert OnnxPredictor(out).metadata[SHARED_WEIGHTS_KEY] == "hints.safetensors"
    _check_round_trip(model, out, temperatures=(0.38, 1.0))
    x = np.random.default_rng(0).random((1, 4, 64, 96), dtype=np.float32)
    x[:, 1:] = 0
    for a, b in zip(OnnxPredictor(out).encoder_features(x), OnnxPredictor(whole).encoder_features(x), strict=True):
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, float(np.abs(b).max()))
    # another model's weights under the name, or a file in another folder, are refused in one line
    other = tmp_path / "other" / "hints.safetensors"
    other.parent.mkdir()
    shutil.copy(weights_paths(tiny_model_path)[0], other)
    with pytest.raises(ExportError, match="a graph can share only a weights file in its own folder"):
        export_onnx(model, tmp_path / "x.onnx", shared_weights=other)
    other_model, _ = load_model(tiny_model_path)
    with pytest.raises(ExportError, match="differs from the model's"):
        export_onnx(other_model, tmp_path / "y.onnx", shared_weights=st)
    unrelated = tmp_path / "unrelated.safetensors"
    header = b'{"other": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    unrelated.write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0\0\0")
    with pytest.raises(ExportError, match="none of its tensors is a parameter of this graph"):
        export_onnx(model, tmp_path / "z.onnx", shared_weights=unrelated)
    assert not any((tmp_path / f"{n}.onnx").exists() for n in "xyz")


def test_export_round_trip_distribution_model(tiny_model_path, tmp_path):
    model, _ = load_model(tiny_model_path)
    out = export_onnx(model, tmp_path / "model.onnx")
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["model.onnx"]  # single file, no external data
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    inputs = {i.name: i for i in proto.graph.input}
    assert set(inputs) == {"luma", "temperature"}
    dims = inputs["luma"].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"] and dims[1].dim_value == 1
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["colorize_head"] == "distribution"
    _check_round_trip(model, out, temperatures=(0.38, 0.1, 1.0))
    with pytest.raises(ExportError, match="already exists"):  # refused before any work
        export_onnx(model, out)


def test_export_regression_and_hint_models(tiny_hint_model_path, tmp_path):
    torch.manual_seed(0)
    regression = create_model("compact-small", head="regression", space="yuv").eval()
    out = export_onnx(regression, tmp_path / "regression.onnx")
    assert [i.name for i in onnx.load(str(out)).graph.input] == ["luma"]  # no temperature for regression heads
    _check_round_trip(regression, out)

    hinted, _ = load_model(tiny_hint_model_path)
    out = export_onnx(hinted, tmp_path / "hints.onnx")
    _check_round_trip(hinted, out, sizes=((64, 96),))


def _pipeline_diff(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    d = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)
    return float((d <= 2).mean()), int(d.max())


def test_onnxruntime_backend_matches_torch_fp32(tiny_model_path, colour_photo, monkeypatch):
    monkeypatch.setenv("COLORIZE_BF16", "0")  # compare against PyTorch in fp32
    ref = Colorizer.from_pretrained(tiny_model_path, device="cpu", backend="torch")
    ort = Colorizer.from_pretrained(tiny_model_path, device="cpu", backend="onnxruntime")
    assert (ref.backend, ort.backend) == ("torch", "onnxruntime")
    for img in (colour_photo, colour_photo.transpose(1, 0, 2).copy()):  # 96x128 and 128x96
        for opts in ({}, {"render_size": 128, "temperature": 0.2}):
            a, b = ref(img, **opts), ort(img, **opts)
            assert a.shape == b.shape == img.shape
            within, worst = _pipeline_diff(a, b)
            assert within >= 0.999 and worst <= 2, (opts, within, worst)


def test_onnx_cache_is_keyed_by_weights_and_reused(tiny_model_path, cache):
    model, _ = load_model(tiny_model_path)
    first = cached_onnx_path(model, tiny_model_path)
    stamp = first.stat().st_mtime_ns
    assert first.parent == cache / "onnx"
    Colorizer.from_pretrained(tiny_model_path, device="cpu", backend="onnxruntime")
    assert first.stat().st_mtime_ns == stamp
    torch.manual_seed(5)
    other = create_model("compact-small")
    assert cached_onnx_path(other) != first  # different weights, different file


def test_auto_backend_rule(monkeypatch):
    monkeypatch.delenv("COLORIZE_BACKEND", raising=False)
    monkeypatch.setenv("COLORIZE_BF16", "0")  # a CPU without native bf16: onnxruntime is the faster fp32 runtime
    assert resolve_backend("auto", "cpu") == "onnxruntime"
    monkeypatch.setenv("COLORIZE_BF16", "1")  # native bf16: torch's bf16 autocast + channels_last is faster
    assert resolve_backend("auto", "cpu") == "torch"
    assert resolve_backend("auto", "cuda") == "torch"
    assert resolve_backend("torch", "cpu") == "torch"
    monkeypatch.setenv("COLORIZE_BACKEND", "onnxruntime")
    assert resolve_backend("auto", "cpu") == "onnxruntime"
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend("tensorrt", "cpu")
    with pytest.raises(ValueError, match="runs on the CPU"):
        resolve_backend("onnxruntime", "cuda")


def test_export_cli(tiny_model_path, tmp_path, capsys):
    from colorize.cli import main

    out = tmp_path / "tiny.onnx"
    assert main(["export", str(out), "--model", tiny_model_path, "--opset", "17", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["inputs"] == ["luma", "temperature"] and summary["max_abs_diff_vs_torch"] < 1e-4
    onnx.checker.check_model(onnx.load(str(out)))
    assert main(["export", str(out), "--model", tiny_model_path]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(out), "--model", tiny_model_path, "--overwrite", "--no-verify"]) == 0
    assert main(["export", str(tmp_path / "x.pt"), "--model", tiny_model_path]) == 2
    assert main(["export", str(tmp_path / "y.onnx"), "--model", str(tmp_path / "missing.json")]) == 1


def test_cli_backend_flag(tiny_model_path, tmp_path):
    from PIL import Image

    from colorize.cli import main

    src = tmp_path / "gray.png"
    Image.fromarray((np.mgrid[0:64, 0:80][1] * 3).astype(np.uint8)).save(src)
    for backend in ("onnxruntime", "torch", "auto"):
        out = tmp_path / f"out_{backend}.png"
        assert main([str(src), "-o", str(out), "--model", tiny_model_path, "--backend", backend, "-q"]) == 0
        with Image.open(out) as im:
            assert im.size == (80, 64) and im.mode == "RGB"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no digest"])
def test_damaged_onnx_cache_is_rebuilt_not_fatal(tiny_model_path, cache, damage):
    """A truncated or corrupt cached export (or one without its digest) is exported again, with a warning."""
    model, _ = load_model(tiny_model_path)
    path = cached_onnx_path(model, tiny_model_path)
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 3])
    elif damage == "garbage":
        path.write_bytes(b"not an onnx file" * 10)
    else:
        path.with_suffix(".onnx.sha256").unlink()
    with pytest.warns(RuntimeWarning, match="exporting it again"):
        again = cached_onnx_path(model, tiny_model_path)
    assert again == path and path.read_bytes() == good
    colorizer = Colorizer.from_pretrained(tiny_model_path, device="cpu", backend="onnxruntime")
    out = colorizer(np.full((32, 32), 128, np.uint8))
    assert out.shape == (32, 32, 3)
