"""The inference pipeline: same size out, luminance kept, alpha kept, batches equal singles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from colorize.filters import guided_upsample
from colorize.models import WeightsError
from colorize.pipeline import Colorizer
from colorize.render import render_shape


def luma_u8(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


@pytest.fixture(scope="module")
def colorizer(tiny_model_path) -> Colorizer:
    return Colorizer.from_pretrained(tiny_model_path, device="cpu", saturation=4.0)  # exaggerated: a random model is faint


def test_same_size_out_and_luminance_preserved(colorizer, colour_photo):
    gray = luma_u8(colour_photo).round().astype(np.uint8)
    for shape in [(96, 128), (37, 201), (300, 17)]:
        g = np.array(Image.fromarray(gray).resize(shape[::-1]))
        out = colorizer(g)
        assert out.shape == (*shape, 3) and out.dtype == np.uint8
        diff = np.abs(luma_u8(out) - g)
        assert (diff <= 1).mean() >= 0.99, diff.max()
        assert (out[..., 0] != out[..., 1]).any()  # colour was added


def test_non_finite_chroma_from_a_backend_leaves_gray_pixels_not_black(tiny_model_path, colour_photo, monkeypatch):
    """A NaN from a backend kernel must not reach the uint8 join (where it becomes 0: a black photo)."""
    c = Colorizer.from_pretrained(tiny_model_path, device="cpu", saturation=4.0)
    real = c.predictor.predict_chroma

    def half_nan(x, temperature=None):
        out = np.array(real(x, temperature=temperature))
        out[..., : out.shape[-1] // 2] = np.nan
        return out

    monkeypatch.setattr(c.predictor, "predict_chroma", half_nan)
    gray = luma_u8(colour_photo).round().astype(np.uint8)
    with pytest.warns(RuntimeWarning, match="non-finite chroma"):
        out = c(gray)
    assert (np.abs(luma_u8(out) - gray) <= 1).mean() >= 0.99  # the luminance survives everywhere
    left, right = out[:, :40].astype(int), out[:, -40:].astype(int)
    assert np.abs(left - left[..., :1]).max() <= 1  # gray where the chroma was NaN
    assert (right[..., 0] != right[..., 1]).any()  # colour where it was not


def test_colour_input_is_recolorized_from_its_luminance(colorizer, colour_photo):
    out = colorizer(colour_photo)
    assert (np.abs(luma_u8(out) - luma_u8(colour_photo)) <= 1).mean() >= 0.99
    gray_out = colorizer(luma_u8(colour_photo).round().astype(np.uint8))
    assert np.abs(out.astype(int) - gray_out.astype(int)).max() <= 2


def test_pil_rgba_keeps_alpha_and_path_input(colorizer, colour_photo, tmp_path):
    alpha = np.tile(np.linspace(0, 255, colour_photo.shape[1]).astype(np.uint8), (colour_photo.shape[0], 1))
    img = Image.fromarray(np.dstack([colour_photo, alpha]), "RGBA")
    out = colorizer(img)
    assert out.mode == "RGBA" and out.size == img.size
    np.testing.assert_array_equal(np.asarray(out)[..., 3], alpha)
    p = tmp_path / "g.png"
    Image.fromarray(colour_photo).convert("L").save(p)
    assert colorizer(str(p)).size == (colour_photo.shape[1], colour_photo.shape[0])


@pytest.mark.slow
def test_batch_equals_single(colorizer, colour_photo):
    g = luma_u8(colour_photo).astype(np.float32) / 255
    g2 = g[::-1].copy()
    batch = colorizer.colorize_batch([g, g2, g[:50]])
    for single, b in zip([g, g2, g[:50]], batch):
        np.testing.assert_allclose(colorizer.colorize_array(single), b, atol=2e-2)


def test_rgbx_batches_are_views_of_the_same_pixels(colorizer, colour_photo):
    g = luma_u8(colour_photo).astype(np.float32) / 255
    plain = colorizer.colorize_batch([g, g[:50]], uint8=True)
    views = colorizer.colorize_batch([g, g[:50]], uint8=True, rgbx=True)
    for a, b in zip(plain, views):
        assert a.flags.c_contiguous and b.base.shape == (*a.shape[:2], 4)
        assert np.array_equal(a, b) and (b.base[..., 3] == 255).all()


def test_lows_made_ahead_are_used_and_a_wrong_size_is_made_again(colorizer, colour_photo, monkeypatch):
    import colorize.pipeline as pipeline_module
    from colorize.render import render_input

    g = luma_u8(colour_photo).astype(np.float32) / 255
    want = colorizer.colorize_batch([g, g[:50]], uint8=True)
    ahead = render_input(g[None, None], colorizer.options.render_size)
    calls = []
    monkeypatch.setattr(pipeline_module, "render_input", lambda *a: calls.append(a) or render_input(*a))
    got = colorizer.colorize_batch([g, g[:50]], uint8=True, lows=[ahead, render_input(g[:50][None, None], 17)])
    assert len(calls) == 1 and calls[0][0].shape[-2:] == (50, g.shape[1])  # only the wrong-size one was shrunk again
    for a, b in zip(want, got):
        assert np.array_equal(a, b)


def test_saturation_zero_is_gray_and_knobs_change_output(colorizer, colour_photo):
    g = luma_u8(colour_photo).astype(np.float32) / 255
    gray = colorizer.colorize_array(g, saturation=0.0)
    assert np.abs(gray[..., 0] - gray[..., 2]).max() < 1e-5
    a = colorizer.colorize_array(g, render_size=64)
    b = colorizer.colorize_array(g, render_size=128)
    assert not np.allclose(a, b)


def test_render_shape():
    assert render_shape(3000, 4000, 256) == (192, 256)
    assert render_shape(10, 5000, 256) == (16, 256)
    h, w = render_shape(480, 640, 384)
    assert h % 16 == 0 and w % 16 == 0 and w == 384


def test_guided_upsampling_keeps_colour_edges_on_luminance_edges():
    y = torch.zeros(1, 1, 256, 256)
    y[..., :, 128:] = 0.8
    y_low = torch.nn.functional.interpolate(y, size=(32, 32), mode="area")
    uv_low = torch.zeros(1, 2, 32, 32)
    uv_low[:, 1, :, 16:] = 0.3  # colour on the bright side only
    sharp = guided_upsample(y_low, uv_low, y)
    blurry = torch.nn.functional.interpolate(uv_low, size=(256, 256), mode="bilinear", align_corners=False)
    leak_sharp = sharp[0, 1, :, 120:128].abs().mean()
    leak_blurry = blurry[0, 1, :, 120:128].abs().mean()
    assert leak_sharp < 0.02 < leak_blurry


def test_unknown_model_is_a_clear_error():
    with pytest.raises(WeightsError, match="no such weights file or bundled model"):
        Colorizer.from_pretrained("does-not-exist")
