"""Reference-based colorization (issue #6): Reinhard statistics, Welsh matching, semantic matching, CLI.

Images are made here (64-128 px); the model is the random-weight fixture of conftest.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from colorize.cli import main
from colorize.color import combine_yuv_gamut_safe, rgb_to_lab, rgb_to_yuv
from colorize.pipeline import Colorizer
from colorize.render import gray_of
from colorize.reference import (
    ReferenceImageError,
    apply_reference,
    load_reference,
    reinhard_transfer,
    semantic_transfer,
    welsh_transfer,
)


def t(x: np.ndarray) -> torch.Tensor:
    """HxW -> (1,1,H,W) or HxWxC -> (1,C,H,W) float tensor."""
    x = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    return x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]


def compose(y: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Luma HxW + chroma HxWx2 (YUV) -> gamut-safe sRGB HxWx3 with exactly that luma."""
    return combine_yuv_gamut_safe(t(y), t(uv))[0].permute(1, 2, 0).numpy()


def ab_of(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(t(rgb))[0, 1:].permute(1, 2, 0).numpy()


RED_UV = rgb_to_yuv(torch.tensor([0.8, 0.2, 0.2]).view(3, 1, 1))[1:, 0, 0].numpy()
BLUE_UV = rgb_to_yuv(torch.tensor([0.2, 0.3, 0.8]).view(3, 1, 1))[1:, 0, 0].numpy()


def smooth_and_textured(h: int, w: int, split: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Luma with a flat half (0.5) and a textured half (0.5 +- 0.2 noise); returns (luma, textured mask)."""
    y = np.full((h, w), 0.5, np.float32)
    tex = np.zeros((h, w), bool)
    if split == "vertical":
        tex[:, w // 2 :] = True
    else:
        tex[h // 2 :, :] = True
    y[tex] = np.clip(0.5 + rng.uniform(-0.2, 0.2, tex.sum()), 0, 1)
    return y, tex


@pytest.fixture(scope="module")
def colorizer(tiny_model_path):
    return Colorizer.from_pretrained(tiny_model_path, device="cpu", render_size=128)


# ----------------------------------------------------------------------------- loading and refusing


def test_load_reference_accepts_paths_pil_and_arrays(tmp_path, colour_photo):
    p = tmp_path / "ref.jpg"
    Image.fromarray(colour_photo).save(p)
    for ref in (p, str(p), Image.open(p), colour_photo, colour_photo.astype(np.float32) / 255):
        rgb = load_reference(ref)
        assert rgb.dtype == np.float32 and rgb.shape == (96, 128, 3)


def test_gray_and_missing_references_are_refused(tmp_path, colour_photo):
    gray = np.repeat(gray_of(colour_photo)[..., None], 3, axis=-1)
    with pytest.raises(ReferenceImageError, match="reference photo is gray"):
        load_reference(gray)
    Image.fromarray((gray * 255).astype(np.uint8)).save(tmp_path / "gray.png")
    with pytest.raises(ReferenceImageError, match=r"gray\.png: the reference photo is gray"):
        load_reference(tmp_path / "gray.png")
    with pytest.raises(ReferenceImageError, match=r"missing\.jpg: cannot use as reference: no such file"):
        load_reference(tmp_path / "missing.jpg")
    with pytest.raises(ReferenceImageError, match="HxWx3"):
        load_reference(np.zeros((8, 8)))


# ----------------------------------------------------------------------------- (a) Reinhard


def test_reinhard_moves_ab_statistics_towards_the_reference():
    rng = np.random.default_rng(0)
    y = np.tile(np.linspace(0.2, 0.8, 64, dtype=np.float32), (48, 1))
    ab_pred = rng.normal(0, 2, (48, 64, 2)).astype(np.float32)  # a dull prediction
    ref_y = rng.uniform(0.1, 0.9, (40, 50)).astype(np.float32)
    ref_ab = np.stack([rng.normal(25, 12, (40, 50)), rng.normal(-30, 8, (40, 50))], -1).astype(np.float32)
    out = reinhard_transfer(t(y), t(ab_pred), t(ref_y), t(ref_ab))[0].permute(1, 2, 0).numpy()
    mean_out, std_out = out.reshape(-1, 2).mean(0), out.reshape(-1, 2).std(0)
    mean_ref, std_ref = ref_ab.reshape(-1, 2).mean(0), ref_ab.reshape(-1, 2).std(0)
    assert np.all(np.abs(mean_out - mean_ref) < 3)
    assert np.all(np.abs(std_out - std_ref) < np.abs(ab_pred.reshape(-1, 2).std(0) - std_ref))


def test_reinhard_is_luminance_matched():
    # reference: dark pixels blue, bright pixels orange -> the prediction's dark part goes blue, bright part orange
    y = np.tile(np.linspace(0.1, 0.9, 64, dtype=np.float32), (32, 1))
    ref_y = np.tile(np.linspace(0.1, 0.9, 40, dtype=np.float32), (30, 1))
    ref_ab = np.zeros((30, 40, 2), np.float32)
    ref_ab[:, :20] = (5, -40)
    ref_ab[:, 20:] = (20, 50)
    out = reinhard_transfer(t(y), t(np.zeros((32, 64, 2))), t(ref_y), t(ref_ab))[0].permute(1, 2, 0).numpy()
    assert out[:, :10, 1].mean() < -25 and out[:, -10:, 1].mean() > 35


# ----------------------------------------------------------------------------- (b) Welsh


def test_welsh_gives_each_region_its_matching_colour():
    rng = np.random.default_rng(1)
    y, tex = smooth_and_textured(64, 96, "vertical", rng)
    # reference: different size and framing (split horizontally), flat part red, textured part blue
    ref_y, ref_tex = smooth_and_textured(80, 72, "horizontal", rng)
    ref_uv = np.where(ref_tex[..., None], BLUE_UV, RED_UV).astype(np.float32)
    ref_rgb = compose(ref_y, ref_uv)
    ref_ab = ab_of(ref_rgb)
    ref_luma = gray_of(ref_rgb)
    ab = welsh_transfer(t(y), t(ref_luma), t(ref_ab))[0].permute(1, 2, 0).numpy()
    red_ab, blue_ab = ref_ab[5, 5], ref_ab[-5, -5]
    flat = ab[4:-4, 4:40].reshape(-1, 2)  # away from the region boundary (5x5 statistics window)
    textured = ab[4:-4, 56:-4].reshape(-1, 2)
    d = lambda x, c: np.linalg.norm(x - c, axis=-1)  # noqa: E731
    assert (d(flat, red_ab) < d(flat, blue_ab)).mean() > 0.95
    assert (d(textured, blue_ab) < d(textured, red_ab)).mean() > 0.95
    assert flat[:, 0].mean() > 20 and textured[:, 1].mean() < -20


def test_welsh_through_the_pipeline(colorizer):
    rng = np.random.default_rng(2)
    y, tex = smooth_and_textured(64, 96, "vertical", rng)
    ref_y, ref_tex = smooth_and_textured(80, 72, "horizontal", rng)
    ref_rgb = compose(ref_y, np.where(ref_tex[..., None], BLUE_UV, RED_UV).astype(np.float32))
    y_low = t(y)  # 64x96 with render size 96: no resampling
    uv = apply_reference(colorizer, y_low, torch.zeros(1, 2, 64, 96), ref_rgb, strength=1.0, method="welsh")
    out = colorizer.colorize_gray(y_low, colorizer.options.__class__(render_size=96), uv_low=uv)[0].permute(1, 2, 0).numpy()
    assert out[10:-10, 5:40, 0].mean() > out[10:-10, 5:40, 2].mean() + 0.1  # red
    assert out[10:-10, 56:-5, 2].mean() > out[10:-10, 56:-5, 0].mean() + 0.1  # blue
    assert (np.abs(gray_of(out) - y) <= 1 / 255).mean() >= 0.99


# ----------------------------------------------------------------------------- (c) semantic + the pipeline


def test_semantic_transfer_shapes_and_identity(colorizer, colour_photo):
    rgb = colour_photo.astype(np.float32) / 255
    y = t(gray_of(rgb))
    ab, conf = semantic_transfer(colorizer, y, y, t(ab_of(rgb)))
    assert ab.shape == (1, 2, 96, 128) and conf.shape == (1, 1, 96, 128)
    assert 0 <= conf.min() and conf.max() <= 1
    # the photo as its own reference (random weights, so only roughly): much closer to the truth than gray
    truth = t(ab_of(rgb))
    assert (ab - truth).abs().mean() < 0.6 * truth.abs().mean()
    assert conf.mean() > 0.5


@pytest.mark.parametrize("method", ["auto", "reinhard", "welsh", "semantic"])
def test_reference_keeps_luminance_and_strength_zero_is_automatic(colorizer, colour_photo, method):
    img = colour_photo.astype(np.float32) / 255
    ref = np.ascontiguousarray(img[::-1, 10:])  # flipped and cropped
    uv0 = colorizer.predict_uv(t(gray_of(img)), colorizer.options)
    same = apply_reference(colorizer, t(gray_of(img)), uv0, ref, strength=0.0, method=method)
    assert torch.equal(same, uv0)
    out = colorizer.colorize_array(img, reference=ref, reference_strength=0.9)
    assert (np.abs(gray_of(out) - gray_of(img)) <= 1 / 255 + 1e-6).mean() >= 0.99


def test_reference_brings_the_reference_colours(colorizer, colour_photo):
    img = colour_photo.astype(np.float32) / 255
    ref = Image.fromarray(colour_photo[::-1, ::-1]).resize((100, 75))  # flipped, other size
    auto = colorizer.colorize_array(img)
    out = colorizer.colorize_array(img, reference=ref, reference_strength=1.0)
    err = lambda x: np.abs(ab_of(x) - ab_of(img)).mean()  # noqa: E731
    assert err(out) < err(auto)


def test_hints_win_over_the_reference(colorizer, colour_photo):
    img = colour_photo.astype(np.float32) / 255
    out = colorizer.colorize_array(img, reference=img, reference_strength=1.0, hints=[(40, 40, "blue")], hint_method="both")
    assert out[38:43, 38:43, 2].mean() > out[38:43, 38:43, 0].mean()


# ----------------------------------------------------------------------------- command line


def test_cli_reference(tmp_path, colour_photo, tiny_model_path, capsys):
    Image.fromarray(colour_photo).save(tmp_path / "photo.png")
    Image.fromarray(colour_photo[::-1, 8:]).save(tmp_path / "ref.jpg")
    Image.fromarray(np.repeat(gray_of(colour_photo)[..., None] * 255, 3, -1).astype(np.uint8)).save(tmp_path / "gray.png")
    base = [str(tmp_path / "photo.png"), "-m", tiny_model_path, "--render-size", "64"]
    assert main([*base, "-o", str(tmp_path / "a.png"), "--reference", str(tmp_path / "ref.jpg"), "--reference-strength", "0.7"]) == 0
    assert Image.open(tmp_path / "a.png").size == (128, 96)
    capsys.readouterr()
    for extra, code, text in [
        (["--reference", str(tmp_path / "gray.png")], 1, "gray.png: the reference photo is gray"),
        (["--reference", str(tmp_path / "nope.jpg")], 1, "nope.jpg: cannot use as reference: no such file"),
        (["--reference", str(tmp_path / "ref.jpg"), "--reference-strength", "2"], 2, "--reference-strength 2: must be between 0 and 1"),
    ]:
        assert main([*base, "-o", str(tmp_path / "b.png"), *extra]) == code
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("colorize: error: ") and text in err[0], err
        assert not (tmp_path / "b.png").exists()
