"""Colour math against scikit-image as the oracle (property tests), plus gamut-safe recombination."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage import color as skcolor

from colorize import color

rgb_arrays = arrays(np.float64, (4, 5, 3), elements=st.floats(0, 1, allow_nan=False, width=32))


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).float().permute(2, 0, 1)


def _np(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).double().numpy()


@settings(max_examples=60, deadline=None)
@given(rgb_arrays)
def test_rgb_to_lab_matches_skimage(rgb):
    np.testing.assert_allclose(_np(color.rgb_to_lab(_t(rgb))), skcolor.rgb2lab(rgb), atol=2e-3)


@settings(max_examples=60, deadline=None)
@given(rgb_arrays)
def test_lab_round_trip(rgb):
    back = color.lab_to_rgb(color.rgb_to_lab(_t(rgb)))
    np.testing.assert_allclose(_np(back), rgb, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(rgb_arrays)
def test_rgb_to_yuv_matches_skimage_and_round_trips(rgb):
    yuv = color.rgb_to_yuv(_t(rgb))
    np.testing.assert_allclose(_np(yuv), skcolor.rgb2yuv(rgb), atol=1e-5)
    np.testing.assert_allclose(_np(color.yuv_to_rgb(yuv)), rgb, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(rgb_arrays)
def test_xyz_matches_skimage(rgb):
    np.testing.assert_allclose(_np(color.rgb_to_xyz(_t(rgb))), skcolor.rgb2xyz(rgb), atol=1e-5)


def test_lab_to_rgb_matches_skimage_for_in_gamut_colours():
    lab = np.array([[[50.0, 20.0, -30.0], [70.0, -40.0, 50.0], [30.0, 10.0, 10.0]]])
    np.testing.assert_allclose(_np(color.lab_to_rgb(_t(lab))), skcolor.lab2rgb(lab), atol=1e-4)


def test_conversions_stay_fp32_under_autocast():
    rgb = torch.rand(1, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lab = color.rgb_to_lab(rgb)
    assert lab.dtype == torch.float32
    torch.testing.assert_close(lab, color.rgb_to_lab(rgb))


@settings(max_examples=80, deadline=None)
@given(
    arrays(np.float32, (1, 6, 6), elements=st.floats(0, 1, width=32)),
    arrays(np.float32, (2, 6, 6), elements=st.floats(-1.5, 1.5, width=32)),
)
def test_gamut_safe_combination_keeps_luma_and_stays_in_gamut(y, uv):
    rgb = color.combine_yuv_gamut_safe(torch.from_numpy(y), torch.from_numpy(uv))
    assert rgb.min() >= 0 and rgb.max() <= 1
    np.testing.assert_allclose(color.rgb_to_luma(rgb).numpy(), y, atol=1e-5)


def test_gamut_safe_combination_keeps_hue_and_in_gamut_chroma():
    rgb = torch.tensor([0.6, 0.3, 0.2]).view(3, 1, 1)
    yuv = color.rgb_to_yuv(rgb)
    # In gamut: the exact colour comes back.
    torch.testing.assert_close(color.combine_yuv_gamut_safe(yuv[:1], yuv[1:]), rgb, atol=1e-6, rtol=0)
    # Out of gamut: chroma is scaled down along the same direction, never clipped per channel.
    out = color.combine_yuv_gamut_safe(yuv[:1], yuv[1:] * 5)
    uv_out = color.rgb_to_yuv(out)[1:].flatten()
    uv_dir = yuv[1:].flatten()
    cos = torch.dot(uv_out, uv_dir) / (uv_out.norm() * uv_dir.norm())
    assert cos > 0.9999 and uv_out.norm() > uv_dir.norm()


@pytest.mark.parametrize("name", ["lab", "yuv"])
def test_chroma_space_split_and_back(name):
    space = color.get_chroma_space(name)
    rgb = torch.rand(2, 3, 8, 8)
    luma, chroma = space.split(rgb)
    assert luma.shape == (2, 1, 8, 8) and chroma.shape == (2, 2, 8, 8)
    assert luma.min() >= -1e-6 and luma.max() <= 1 + 1e-5 and chroma.abs().max() <= 1.0
    torch.testing.assert_close(space.to_rgb(luma, chroma), rgb, atol=1e-4, rtol=0)


def test_unknown_space_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown colour space"):
        color.get_chroma_space("hsv")
