"""Contracts of inference that the rest of the suite does not pin (issue 13).

Each test kills one mutation that used to pass the whole suite:

* the model-input L* conversion replaced by identity (a Lab model fed BT.601 luma);
* ``temperature`` ignored between the call and the distribution head;
* the weights' ``inference`` defaults ignored by ``from_pretrained`` (or winning over call options);
* the temporal ``keep_saturation`` of :mod:`colorize.video` switched off;
* the pipeline's model input drifting from the training side's for the same gray photo.

Everything goes through the public API (``Colorizer``, ``create_model``, ``save_model``, the CLI);
the few internal names are imported in the block below, so a move needs one line changed here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorize import Colorizer
from colorize.models import create_model
from colorize.models.weights import save_model

# ---- internal names (update here after a restructure) ------------------------------------------
from colorize.color import get_chroma_space, rgb_to_yuv  # training-side colour split; YUV chroma
from colorize.pipeline import ColorizeOptions  # the options dataclass (may move to colorize.options)
from colorize.train import TrainConfig, make_input  # how train.py builds the model input
from colorize.video import TemporalColorizer, TemporalOptions  # frame-level film API

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fp32(monkeypatch):
    """Exact comparisons below need the same arithmetic on every machine: no bf16 autocast."""
    monkeypatch.setenv("COLORIZE_BF16", "0")


def _gray_photo(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """A smooth, textured uint8 gray picture with the whole range of levels (made here, no data)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.5 + 0.3 * np.sin(xx / 7) * np.cos(yy / 5) + 0.2 * (xx / w - 0.5)
    img += np.random.default_rng(seed).normal(0, 0.02, (h, w))
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _recording_colorizer(model: torch.nn.Module, **kw) -> tuple[Colorizer, list[torch.Tensor]]:
    """A Colorizer around ``model`` that records every input the network's forward receives."""
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().float().cpu().clone()))
    return Colorizer(model, device="cpu", **kw), seen


def _save(tmp_path: Path, name: str, model: torch.nn.Module, **extra) -> Path:
    return save_model(model, tmp_path / name, extra=extra or None)[1]


# ------------------------------------------------------------------ a. L* for a Lab model


def test_lab_model_is_fed_cie_lstar_of_the_gray_level():
    """A Lab model sees L*/100 of the gray pixel (CIE, D65), not the BT.601 level itself."""
    skcolor = pytest.importorskip("skimage.color")
    torch.manual_seed(0)
    colorizer, seen = _recording_colorizer(create_model("compact-small"),
                                           options=ColorizeOptions(render_size=32))
    levels = np.linspace(0, 1, 32, dtype=np.float32)
    img = np.tile(levels, (32, 1))  # 32x32 float gray: rendered at its own size, no resampling
    colorizer.colorize_array(img)
    assert len(seen) == 1
    fed = seen[0][0, 0].numpy()
    expected = skcolor.rgb2lab(np.repeat(img[..., None], 3, axis=2).astype(np.float64))[..., 0] / 100
    np.testing.assert_allclose(fed, expected, atol=2e-4)
    assert np.abs(fed - img).max() > 0.025  # identity is off by up to 0.034 (mid-gray: L* 53.4 vs 50)


# ------------------------------------------------------------------ e. same input as training


@pytest.mark.parametrize("arch,opts", [("compact-small", {}), ("compact-small", {"hints": True}),
                                       ("compact-small", {"space": "yuv", "head": "regression"})])
def test_pipeline_feeds_the_model_what_training_fed_it(arch, opts, colour_photo):
    """For a gray photo, the pipeline's model input equals train.py's input for that photo.

    train.py: ``luma, chroma = get_chroma_space(space).split(rgb)``, then ``make_input`` (hint
    channels for hint models, empty when no hints are drawn). The pipeline gets the photo's gray
    version (its BT.601 luma), at its own size so no resampling is involved.
    """
    torch.manual_seed(0)
    model = create_model(arch, **opts)
    h, w = colour_photo.shape[:2]
    colorizer, seen = _recording_colorizer(model, options=ColorizeOptions(render_size=max(h, w)))
    rgb = colour_photo.astype(np.float32) / 255
    y = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    gray_rgb = torch.from_numpy(np.repeat(y[..., None], 3, axis=2)).permute(2, 0, 1)[None]

    luma, chroma = get_chroma_space(model.config.space).split(gray_rgb)
    train_x = make_input(model, luma, chroma, TrainConfig(hint_probability=0.0), torch.Generator())

    colorizer.colorize_array(rgb)  # colour in: the pipeline re-colorizes from its luma
    colorizer.colorize_array(y)  # gray in
    assert len(seen) == 2
    for x in seen:
        assert x.shape == train_x.shape
        torch.testing.assert_close(x, train_x.float(), atol=1e-4, rtol=0)


# ------------------------------------------------------------------ b. temperature reaches the head


def test_temperature_changes_a_distribution_models_result(tiny_model_path):
    colorizer = Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=64)
    assert json.loads(Path(tiny_model_path).read_text())["head"] == "distribution"
    img = Image.fromarray(_gray_photo())
    cold = np.asarray(colorizer(img, temperature=0.2), np.int16)
    hot = np.asarray(colorizer(img, temperature=1.0), np.int16)
    # neither is the model's own default (0.38), so dropping the value on the way fails here
    assert np.abs(cold - hot).mean() > 0.5, "temperature did not reach the distribution head"
    # the same through options objects and through from_pretrained
    arr = _gray_photo().astype(np.float32) / 255
    a = colorizer.colorize_array(arr, ColorizeOptions(temperature=0.2))
    b = colorizer.colorize_array(arr, ColorizeOptions(temperature=1.0))
    assert np.abs(a - b).mean() > 0.5 / 255
    hot2 = np.asarray(Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=64, temperature=1.0)(img), np.int16)
    np.testing.assert_array_equal(hot2, hot)  # (also shows the runs are deterministic)


def test_temperature_does_not_touch_a_regression_model(tmp_path):
    torch.manual_seed(0)
    path = _save(tmp_path, "reg", create_model("compact-small", head="regression"))
    colorizer = Colorizer.from_pretrained(path, device="cpu", render_size=64)
    img = Image.fromarray(_gray_photo())
    np.testing.assert_array_equal(np.asarray(colorizer(img, temperature=0.2)), np.asarray(colorizer(img, temperature=1.0)))


# ------------------------------------------------------------------ c. the weights' inference defaults


@pytest.fixture(scope="module")
def weights_pair(tmp_path_factory) -> tuple[Path, Path]:
    """The same tiny weights twice: with ``"inference": {"temperature": 0.9, "render_size": 128}`` and without."""
    tmp = tmp_path_factory.mktemp("inference_defaults")
    torch.manual_seed(1)
    model = create_model("compact-small")
    with_defaults = _save(tmp, "with", model, inference={"temperature": 0.9, "render_size": 128})
    plain = _save(tmp, "plain", model)
    assert json.loads(with_defaults.read_text())["inference"] == {"temperature": 0.9, "render_size": 128}
    assert "inference" not in json.loads(plain.read_text())
    return with_defaults, plain


GRAY = _gray_photo(96, 160, seed=3)


def _run(colorizer: Colorizer, **kw) -> np.ndarray:
    """Float output (no 8-bit rounding to hide a small difference); every step is deterministic."""
    return colorizer.colorize_array(GRAY.astype(np.float32) / 255, **kw)


def _differs(a: np.ndarray, b: np.ndarray) -> bool:
    # a different render size or temperature moves some pixels by >= 2e-3 with this tiny model
    return float(np.abs(a - b).max()) > 5e-4


@pytest.mark.slow
def test_from_pretrained_honours_the_weights_inference_defaults(weights_pair):
    with_defaults, plain = weights_pair
    c_def = Colorizer.from_pretrained(with_defaults, device="cpu")
    c_plain = Colorizer.from_pretrained(plain, device="cpu")
    got = _run(c_def)
    np.testing.assert_array_equal(got, _run(c_plain, temperature=0.9, render_size=128))
    # each default matters on its own (so ignoring either one fails)
    assert _differs(got, _run(c_plain))
    assert _differs(got, _run(c_plain, temperature=0.9)), "render_size default ignored"
    assert _differs(got, _run(c_plain, render_size=128)), "temperature default ignored"


@pytest.mark.slow
def test_call_and_load_options_override_the_weights_defaults(weights_pair):
    with_defaults, plain = weights_pair
    c_plain = Colorizer.from_pretrained(plain, device="cpu")
    c_def = Colorizer.from_pretrained(with_defaults, device="cpu")
    # per call: the given option wins, the other default stays
    np.testing.assert_array_equal(_run(c_def, temperature=0.38), _run(c_plain, temperature=0.38, render_size=128))
    np.testing.assert_array_equal(_run(c_def, render_size=256), _run(c_plain, temperature=0.9, render_size=256))
    # at load time
    c_loaded = Colorizer.from_pretrained(with_defaults, device="cpu", render_size=256)
    np.testing.assert_array_equal(_run(c_loaded), _run(c_plain, temperature=0.9, render_size=256))


@pytest.mark.slow
def test_films_start_from_the_colorizers_options(weights_pair):
    """TemporalColorizer (the film path) uses the loaded model's defaults: its first frame is the photo result."""
    with_defaults, _ = weights_pair
    c_def = Colorizer.from_pretrained(with_defaults, device="cpu")
    frame = TemporalColorizer(c_def).colorize_frames([GRAY])[0]
    np.testing.assert_allclose(frame, _run(c_def), atol=1e-5)


@pytest.mark.slow  # a subprocess that imports torch: ~3-10 s depending on the machine's load
def test_cli_honours_the_weights_inference_defaults(weights_pair, tmp_path):
    """``colorize photo.png -m weights.json`` colours as ``from_pretrained(weights.json)`` does."""
    with_defaults, plain = weights_pair
    src = tmp_path / "photo.png"
    Image.fromarray(GRAY).save(src)
    out = tmp_path / "out.png"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "COLORIZE_BF16": "0"}
    r = subprocess.run([sys.executable, "-m", "colorize", str(src), "-m", str(with_defaults), "-o", str(out)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im:
        cli = np.asarray(im.convert("RGB"), np.int16)
    api = np.asarray(Colorizer.from_pretrained(with_defaults, device="cpu")(Image.fromarray(GRAY)), np.int16)
    np.testing.assert_array_equal(cli, api)
    ignored = np.asarray(Colorizer.from_pretrained(plain, device="cpu")(Image.fromarray(GRAY)), np.int16)
    assert np.abs(cli - ignored).max() > 0  # the defaults change 8-bit pixels too (measured: mean 0.5 levels)


# ------------------------------------------------------------------ d. temporal keep_saturation


def _uv_field(u: float, v: float, n: int = 64) -> torch.Tensor:
    uv = torch.zeros(1, 2, n, n)
    uv[:, 0], uv[:, 1] = u, v
    return uv


def test_temporal_blend_keeps_saturation_when_hues_differ():
    """Two frames whose predicted hues are 90 degrees apart: the blend must not turn greyish.

    Without ``keep_saturation`` the chroma of frame 2 is ``|(1-w) uv2 + w uv1|`` = 0.86 of either
    frame's at the default strength (w = 0.85 where the motion is trusted, as for a still shot).
    """
    torch.manual_seed(0)
    colorizer = Colorizer(create_model("compact-small"), device="cpu", options=ColorizeOptions(render_size=64))
    tc = TemporalColorizer(colorizer)  # default TemporalOptions: a default that switched it off fails too
    assert TemporalOptions().keep_saturation
    c = 0.08  # YUV units: well inside the gamut at mid gray
    preds = iter([_uv_field(c, 0.0), _uv_field(0.0, c)])
    tc.predict = lambda y_low, rotation=0: next(preds)  # the model's chroma, chosen per frame
    frame = _gray_photo(64, 64)
    rgb = np.concatenate([tc.colorize_frames([frame]), tc.colorize_frames([frame])])  # consecutive batches
    assert tc.scene_cuts == [] and tc.confidences and tc.confidences[0] > 0.8  # blended, not reset
    uv = rgb_to_yuv(torch.from_numpy(rgb).permute(0, 3, 1, 2))[:, 1:]
    mag = uv.norm(dim=1)[:, 8:-8, 8:-8].mean((1, 2))  # centre: away from the flow's border
    assert abs(float(mag[0]) - c) < 0.1 * c  # first frame: the prediction itself
    assert float(mag[1]) > 0.95 * c, f"temporal blend lost saturation: {float(mag[1]):.4f} vs {c}"
    # and the hue really is a blend (the memory was used), not just the second prediction
    mean_uv = uv[1, :, 8:-8, 8:-8].mean((1, 2))
    assert float(mean_uv[0]) > 0.3 * c


# ------------------------------------------------------------------ doctest collection


@pytest.mark.slow  # a fresh interpreter importing every module (torch included): ~3-6 s
def test_every_module_imports_without_the_optional_dependencies():
    """``--doctest-modules`` (pyproject addopts) imports every .py module of the package; the optional
    extras (web, video, export, train) must stay function-local imports so collection never breaks."""
    code = (
        "import sys, importlib, importlib.util, pkgutil\n"
        "for m in ('gradio', 'av', 'cv2', 'onnx', 'onnxruntime', 'matplotlib', 'playwright'):\n"
        "    sys.modules[m] = None  # import fails like a missing package\n"
        "import colorize\n"
        "names = [m.name for m in pkgutil.walk_packages(colorize.__path__, 'colorize.')\n"
        "         if m.name != 'colorize.__main__' and importlib.util.find_spec(m.name).origin.endswith('.py')]\n"
        "for n in names:\n"
        "    importlib.import_module(n)\n"
        "print(len(names))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.split()[-1]) > 20
