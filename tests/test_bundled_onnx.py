"""The ONNX graph shipped with the default model (src/colorize/pretrained/default.onnx).

It must be exported from exactly the shipped safetensors (its metadata records their SHA-256; remake
it with ``python scripts/bundle_onnx.py`` after changing the weights) and agree with them run by
PyTorch; a graph that does not match its weights is not used.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import warnings

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from colorize.backends import OnnxPredictor  # noqa: E402
from colorize.models.files import GRAPH_DIGEST_KEY, PRETRAINED_DIR, file_sha256, ready_graph  # noqa: E402
from colorize.pipeline import Colorizer  # noqa: E402

DEFAULT = PRETRAINED_DIR / "default.json"
GRAPH = PRETRAINED_DIR / "default.onnx"


def test_bundled_graph_is_up_to_date_with_the_shipped_weights():
    assert GRAPH.is_file(), "default.onnx missing: run python scripts/bundle_onnx.py"
    recorded = OnnxPredictor(GRAPH).metadata.get(GRAPH_DIGEST_KEY)
    assert recorded == file_sha256(DEFAULT.with_suffix(".safetensors")), "default.onnx is stale: run python scripts/bundle_onnx.py"
    assert ready_graph(DEFAULT, recorded) == GRAPH


@pytest.mark.slow  # PyTorch and the 5 M-parameter model on a shared CPU: 10-25 s here
def test_bundled_graph_agrees_with_the_safetensors_in_torch():
    torch = pytest.importorskip("torch")
    from colorize.models.weights import load_model

    model, _ = load_model(DEFAULT)
    model = model.float().eval()
    runner = OnnxPredictor(GRAPH)
    assert runner.in_channels == model.in_channels == 4 and runner.takes_temperature and runner.has_encoder_features
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 4, 64, 96, generator=gen)
    x[:, 1:] = 0
    x[0, 1:3, 20:23, 30:33] = torch.tensor([0.4, -0.2]).view(2, 1, 1)  # one learned hint
    x[0, 3, 20:23, 30:33] = 1
    for t in (0.55, 0.2, 1.0):
        with torch.no_grad():
            want = model.predict_chroma(x, temperature=t).numpy()
        got = runner.predict_chroma(x.numpy(), temperature=t)
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-4, t
    with torch.no_grad():
        want_f = [f.numpy() for f in model.encoder_features(x)]
    got_f = runner.encoder_features(x.numpy())
    assert len(got_f) == len(want_f)
    for g, w in zip(got_f, want_f):
        assert g.shape == w.shape and np.abs(g - w).max() <= 1e-4 * max(1.0, float(np.abs(w).max()))


def test_default_model_runs_from_the_graph_by_default():
    c = Colorizer.from_pretrained("default", device="cpu")
    assert c.backend == "onnxruntime" and c.takes_hints and c.space == "lab"
    shipped = json.loads((PRETRAINED_DIR / "default.json").read_text())["inference"]["temperature"]
    assert c.model.num_parameters() > 1_000_000 and c.options.temperature == shipped  # the JSON's inference section


def _copy_bundle(folder, stem: str = "default"):
    """The bundled model's three files in ``folder`` as ``STEM.*``; returns the copied graph's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".json", ".safetensors", ".onnx"):
        shutil.copy(DEFAULT.with_suffix(suffix), folder / f"{stem}{suffix}")
    return folder / f"{stem}.onnx"


def test_the_graph_carries_no_second_copy_of_the_weights():
    from colorize.export import SHARED_WEIGHTS_KEY

    runner = OnnxPredictor(GRAPH)
    assert runner.metadata.get(SHARED_WEIGHTS_KEY) == "default.safetensors"
    assert GRAPH.stat().st_size < 1_000_000 < 20_000_000 < DEFAULT.with_suffix(".safetensors").stat().st_size


def test_a_stale_graph_is_not_used(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("COLORIZE_BF16", "1")  # then 'auto' without a ready graph is PyTorch (no export into the cache)
    graph = _copy_bundle(tmp_path)
    st = tmp_path / "default.safetensors"
    data = bytearray(st.read_bytes())
    data[-1] ^= 1  # other weights (one bit of the last tensor): the graph no longer matches them
    st.write_bytes(bytes(data))
    assert ready_graph(tmp_path / "default.json", OnnxPredictor(graph).metadata.get(GRAPH_DIGEST_KEY)) is None
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        c = Colorizer.from_pretrained(tmp_path / "default.json", device="cpu")
    assert any("stale ONNX graph" in str(w.message) for w in seen)
    assert getattr(c.predictor, "path", None) != graph
    assert hasattr(c.model, "parameters")  # the weights were loaded into PyTorch


def test_a_graph_parted_from_its_weights_file_says_which_file_is_missing(tmp_path, monkeypatch):
    """The graph reads default.safetensors by name: a renamed copy cannot open it, and says so in one line."""
    graph = _copy_bundle(tmp_path, stem="mine")
    with pytest.raises(ValueError, match=r"mine\.onnx: its weights file default\.safetensors is not beside it") as err:
        OnnxPredictor(graph)
    assert "\n" not in str(err.value)
    if importlib.util.find_spec("torch") is None:
        return
    monkeypatch.setenv("COLORIZE_BF16", "1")
    with warnings.catch_warnings(record=True) as seen:  # the pipeline warns and loads mine.safetensors into PyTorch
        warnings.simplefilter("always")
        c = Colorizer.from_pretrained(tmp_path / "mine.json", device="cpu")
    assert any("default.safetensors is not beside it" in str(w.message) for w in seen)
    assert hasattr(c.model, "parameters")


def test_auto_rule_with_a_ready_graph(monkeypatch):
    from colorize.backends import resolve_backend

    monkeypatch.delenv("COLORIZE_BACKEND", raising=False)
    monkeypatch.setenv("COLORIZE_BF16", "1")  # even where bf16 torch would win for an own checkpoint
    assert resolve_backend("auto", "auto", graph=True) == "onnxruntime"  # no torch import to ask about CUDA
    assert resolve_backend("auto", "cpu", graph=True) == "onnxruntime"
    assert resolve_backend("auto", "cuda", graph=True) == "torch"  # an explicit GPU keeps the network on it
    assert resolve_backend("torch", "cpu", graph=True) == "torch"
    monkeypatch.setenv("COLORIZE_BACKEND", "torch")
    assert resolve_backend("auto", "cpu", graph=True) == "torch"


# ----------------------------------------------------------------------------- the optimized-graph cache


def _run(session) -> list[np.ndarray]:
    luma = np.random.default_rng(0).random((1, 4, 64, 96), dtype=np.float32)
    return session.run(None, {"luma": luma, "temperature": np.asarray(0.38, np.float32)})


def _options():
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return opts


def test_the_optimized_graph_is_cached_once_and_gives_identical_outputs(tmp_path, monkeypatch):
    import onnxruntime as ort

    from colorize.runtime import onnx_session

    monkeypatch.setenv("COLORIZE_CACHE_DIR", str(tmp_path / "cache"))
    graph = _copy_bundle(tmp_path / "model")
    reference = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])  # optimized in memory, no cache
    first = onnx_session(graph, _options())
    cached = list((tmp_path / "cache" / "ort").glob("*.onnx"))
    assert len(cached) == 1 and not list((tmp_path / "cache" / "ort").glob(".*.tmp"))
    stamp = cached[0].stat().st_mtime_ns
    second = onnx_session(graph, _options())  # opened from the cache: the file is not written again
    assert cached[0].stat().st_mtime_ns == stamp
    assert dict(second.get_modelmeta().custom_metadata_map) == dict(reference.get_modelmeta().custom_metadata_map)
    for a, b, c in zip(_run(reference), _run(first), _run(second), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # a re-export at the same path (a new mtime) is another entry, never the stale one
    os.utime(graph, ns=(stamp + 10**9, stamp + 10**9))
    onnx_session(graph, _options())
    assert len(list((tmp_path / "cache" / "ort").glob("*.onnx"))) == 2
    # so is new weights under the same graph file (the graph reads its parameters from the safetensors)
    os.utime(graph.with_suffix(".safetensors"), ns=(stamp + 2 * 10**9, stamp + 2 * 10**9))
    onnx_session(graph, _options())
    assert len(list((tmp_path / "cache" / "ort").glob("*.onnx"))) == 3


def test_the_graph_cache_keeps_only_the_newest_entries_of_a_model(tmp_path):
    from colorize.runtime import GRAPH_CACHE_KEEP, _prune_graph_cache

    folder = tmp_path / "ort"
    folder.mkdir()
    names = [f"default-{i:020x}.onnx" for i in range(GRAPH_CACHE_KEEP + 2)]
    for i, name in enumerate(names):
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, ns=(10**18 + i * 10**9,) * 2)  # oldest first
    others = ["default-large-0123456789abcdef0123.onnx", "other-0123456789abcdef0123.onnx", "default-notes.onnx"]
    for name in others:
        (folder / name).write_bytes(b"y")
    _prune_graph_cache(folder, "default")
    assert sorted(p.name for p in folder.iterdir()) == sorted(names[2:] + others)  # another model's entries stay


def test_a_damaged_cache_entry_is_rewritten_and_an_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    from colorize.runtime import onnx_session

    monkeypatch.setenv("COLORIZE_CACHE_DIR", str(tmp_path / "cache"))
    graph = _copy_bundle(tmp_path / "model")
    expected = _run(onnx_session(graph, _options()))
    (entry,) = (tmp_path / "cache" / "ort").glob("*.onnx")
    entry.write_bytes(entry.read_bytes()[:1000])  # truncated
    for a, b in zip(expected, _run(onnx_session(graph, _options())), strict=True):
        np.testing.assert_array_equal(a, b)
    assert entry.stat().st_size > 1000
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("COLORIZE_CACHE_DIR", str(blocker))  # mkdir under a file fails: optimize in memory
    for a, b in zip(expected, _run(onnx_session(graph, _options())), strict=True):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setenv("COLORIZE_CACHE_DIR", str(tmp_path / "off"))
    monkeypatch.setenv("COLORIZE_GRAPH_CACHE", "0")
    onnx_session(graph, _options())
    assert not (tmp_path / "off").exists()


@pytest.mark.slow  # the default model in PyTorch and in onnxruntime: a few seconds each
def test_the_consensus_decode_is_the_same_on_both_backends():
    pytest.importorskip("torch")
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    gray = np.clip(0.5 + 0.3 * np.sin(xx / 9) * np.cos(yy / 13), 0, 1)
    onnx = Colorizer.from_pretrained("default", backend="onnxruntime", render_size=128)
    torch_c = Colorizer.from_pretrained("default", backend="torch", device="cpu", render_size=128)
    torch_c.predictor.use_bf16 = False  # compare like with like: the graph runs in fp32
    off = onnx(gray, consensus_radius=0)
    on_onnx = onnx(gray, consensus_radius=5)
    on_torch = torch_c(gray, consensus_radius=5)
    assert np.abs(on_onnx - on_torch).max() < 2e-3
    assert np.abs(on_onnx - off).max() > 1e-3  # the option does something
    # luminance is untouched either way
    luma = on_onnx @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(luma - gray).max() < 2e-2
