"""The numpy image path (colorize.imaging) against the torch code training uses (colorize.color / filters).

The onnxruntime backend never imports torch, so every pre- and post-processing step has a numpy twin;
these tests hold each twin to its torch original (float32 rounding only).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from colorize import color as C
from colorize import filters as FT
from colorize import imaging as I
from colorize.render import model_luma, render_input

RNG = np.random.default_rng(0)
X = RNG.random((2, 3, 17, 23), dtype=np.float32)


@pytest.mark.parametrize("name", ["srgb_to_linear", "linear_to_srgb", "rgb_to_yuv", "yuv_to_rgb"])
def test_colour_conversions_match_torch(name):
    assert np.abs(getattr(I, name)(X) - getattr(C, name)(torch.from_numpy(X)).numpy()).max() < 1e-6


def test_lab_both_ways_match_torch():
    lab_t = C.rgb_to_lab(torch.from_numpy(X)).numpy()
    assert np.abs(I.rgb_to_lab(X) - lab_t).max() < 1e-4  # L* and a*b* in units of 0..100
    assert np.abs(I.lab_to_rgb(lab_t) - C.lab_to_rgb(torch.from_numpy(lab_t)).numpy()).max() < 1e-5


def test_gamut_safe_join_matches_torch_far_out_of_gamut():
    y, uv = X[:, :1], (X[:, 1:] - 0.5) * 3
    got = I.combine_yuv_gamut_safe(y, uv)
    want = C.combine_yuv_gamut_safe(torch.from_numpy(y), torch.from_numpy(uv)).numpy()
    assert np.abs(got - want).max() < 1e-6


@pytest.mark.parametrize("size", [(512, 384, 256, 192), (97, 131, 112, 144), (1000, 37, 256, 16), (40, 40, 40, 40)])
def test_render_shrink_matches_torch_antialiased_bilinear(size):
    H, W, h, w = size
    y = RNG.random((1, 1, H, W), dtype=np.float32)
    want = F.interpolate(torch.from_numpy(y), size=(h, w), mode="bilinear", antialias=True, align_corners=False).numpy()
    assert np.abs(I.resize_bilinear(y, (h, w)) - want).max() < 1e-5


def test_render_input_and_model_luma_keep_the_kind_they_are_given():
    y = RNG.random((1, 1, 300, 200), dtype=np.float32)
    low = render_input(y, 64)
    assert isinstance(low, np.ndarray) and low.shape == (1, 1, 64, 48)
    t = render_input(torch.from_numpy(y), 64)
    assert isinstance(t, torch.Tensor) and np.abs(t.numpy() - low).max() == 0
    lab_t = (116 * C.lab_f(C.srgb_to_linear(torch.from_numpy(low))) - 16) / 100
    assert np.abs(model_luma(low, "lab") - lab_t.numpy()).max() < 1e-6


def test_upsampling_and_area_resize_match_torch():
    x = RNG.random((1, 2, 16, 24), dtype=np.float32)
    want = F.interpolate(torch.from_numpy(x), size=(64, 96), mode="bilinear", align_corners=False).numpy()
    assert np.abs(I.upsample_bilinear(x, (64, 96)) - want).max() < 1e-6
    big = RNG.random((1, 3, 301, 257), dtype=np.float32)
    want = F.adaptive_avg_pool2d(torch.from_numpy(big), (40, 33)).numpy()
    assert np.abs(I.resize_area(big, (40, 33)) - want).max() < 1e-6


@pytest.mark.parametrize("radius", [0, 1, 2, 5])
def test_box_and_guided_filter_match_torch(radius):
    y, uv = X[:, :1], X[:, 1:] - 0.5
    assert np.abs(I.box_filter(X, radius) - FT.box_filter(torch.from_numpy(X), radius).numpy()).max() < 1e-6
    a, b = I.guided_filter_coefficients(y, uv, radius)
    at, bt = FT.guided_filter_coefficients(torch.from_numpy(y), torch.from_numpy(uv), radius)
    assert np.abs(a - at.numpy()).max() < 1e-5 and np.abs(b - bt.numpy()).max() < 1e-5


def test_coefficient_strips_match_torch():
    y, uv = X[:1, :1], X[:1, 1:] - 0.5
    got = list(I.guided_coefficient_strips(y, uv, (300, 401), rows_per_chunk=64))
    want = list(FT.guided_coefficient_strips(torch.from_numpy(y), torch.from_numpy(uv), (300, 401), rows_per_chunk=64))
    assert [g[0] for g in got] == [w[0] for w in want]
    for (_, a, b), (_, at, bt) in zip(got, want):
        assert np.abs(a - at.numpy()).max() < 1e-5 and np.abs(b - bt.numpy()).max() < 1e-5


def test_the_colour_constants_are_shared():
    assert C.BT601 is I.BT601 and (C.U_MAX, C.V_MAX, C.AB_MAX) == (I.U_MAX, I.V_MAX, I.AB_MAX)
    assert np.array_equal(C._YUV_TO_RGB.numpy(), I._YUV_TO_RGB) or np.abs(C._YUV_TO_RGB.numpy() - I._YUV_TO_RGB).max() < 1e-7


def test_the_default_bin_table_is_the_gamut_construction():
    from colorize.imaging import ab_bin_centers_np, build_ab_bin_centers

    table = ab_bin_centers_np(10)
    assert table.dtype == np.float32 and table.shape == (262, 2)
    assert np.array_equal(table, build_ab_bin_centers(10))  # same bins, same order (the head's channels)
    assert build_ab_bin_centers(20).shape[0] < 262  # other grids are built
    assert np.array_equal(ab_bin_centers_np(20), build_ab_bin_centers(20))
