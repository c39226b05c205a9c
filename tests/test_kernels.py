"""The fused full-resolution kernel (C, via ctypes) and its numpy fallback against the torch reference, and the 8-bit path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from colorize import kernels
from colorize.color import rgb_to_luma


def _case(h: int, w: int, seed: int, chroma: float = 1.2):
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(h, w, generator=g).numpy()
    y_low = F.interpolate(torch.from_numpy(y)[None, None], size=(max(1, h // 5), max(1, w // 5)), mode="area")
    uv = (torch.rand(1, 2, *y_low.shape[-2:], generator=g) - 0.5) * chroma  # often far out of gamut
    return y, y_low, uv


def test_the_compiled_kernel_is_built():
    # setup.py builds it wherever a C compiler exists (as on CI); without it colorize still works, slower
    assert kernels.fast_kernel_available()


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (37, 53), (130, 211)])
def test_c_kernel_matches_the_torch_reference(shape):
    y, y_low, uv = _case(*shape, seed=sum(shape))
    fast = kernels.guided_join_u8(y, y_low, uv)
    ref = kernels.guided_join_u8_torch(y, y_low, uv)
    assert fast.shape == (*shape, 3) and fast.dtype == np.uint8
    diff = np.abs(fast.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (37, 53), (130, 211), (600, 301)])
def test_numpy_fallback_matches_the_torch_reference(shape):
    """Without the compiled kernel the numpy path (no torch in the default install) gives the old bytes."""
    y, y_low, uv = _case(*shape, seed=sum(shape) + 1)
    got = kernels.guided_join_u8_numpy(y, y_low.numpy(), uv.numpy())
    ref = kernels.guided_join_u8_torch(y, y_low, uv)
    diff = np.abs(got.astype(int) - ref.astype(int))
    assert got.dtype == np.uint8 and diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_threads_and_strided_input_give_identical_bytes():
    y, y_low, uv = _case(301, 77, seed=3)
    one = kernels.guided_join_u8(y, y_low, uv, threads=1)
    assert np.array_equal(one, kernels.guided_join_u8(y, y_low, uv, threads=4))
    padded = np.zeros((301, 90), np.float32)
    padded[:, :77] = y
    assert np.array_equal(one, kernels.guided_join_u8(padded[:, :77], y_low, uv))


def test_rgbx_output_is_the_rgb_bytes_plus_an_opaque_fourth():
    """The JPEG path's layout (Pillow wraps it without a copy): same pixels, X = 255, both implementations."""
    y, y_low, uv = _case(61, 47, seed=9)
    rgb = kernels.guided_join_u8(y, y_low, uv)
    rgb_np = kernels.guided_join_u8_numpy(y, y_low.numpy(), uv.numpy())
    for out, want in ((kernels.guided_join_u8(y, y_low, uv, rgbx=True), rgb),
                      (kernels.guided_join_u8(y, y_low, uv, threads=3, rgbx=True), rgb),
                      (kernels.guided_join_u8_numpy(y, y_low.numpy(), uv.numpy(), rgbx=True), rgb_np)):
        assert out.shape == (61, 47, 4) and out.dtype == np.uint8 and out.flags.c_contiguous
        assert np.array_equal(out[..., :3], want) and (out[..., 3] == 255).all()


def test_luma_is_kept_even_for_out_of_gamut_chroma():
    y, y_low, uv = _case(120, 160, seed=5, chroma=3.0)
    rgb = kernels.guided_join_u8(y, y_low, uv)
    luma = rgb_to_luma(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)[0].numpy()
    assert np.abs(luma - y).max() <= 1.0 / 255 + 1e-6
    assert rgb.std(axis=2).mean() > 10  # and colour survives: chroma is scaled, not dropped


def test_the_numpy_fallback_is_used_without_the_library(monkeypatch):
    monkeypatch.setenv("COLORIZE_NO_C", "1")
    kernels._library.cache_clear()
    try:
        assert not kernels.fast_kernel_available()
        y, y_low, uv = _case(20, 30, seed=1)
        assert np.array_equal(kernels.guided_join_u8(y, y_low, uv), kernels.guided_join_u8_numpy(y, y_low, uv))
    finally:
        monkeypatch.delenv("COLORIZE_NO_C")
        kernels._library.cache_clear()


@pytest.mark.slow
def test_pipeline_8bit_path_matches_the_float_path(tiny_model_path):
    from colorize.pipeline import Colorizer

    c = Colorizer.from_pretrained(tiny_model_path, device="cpu")
    gray = np.random.default_rng(0).random((90, 140), dtype=np.float32)
    as_float = c.colorize_batch([gray])[0]
    as_u8 = c.colorize_batch([gray], uint8=True)[0]
    assert as_u8.dtype == np.uint8
    assert np.abs((as_float * 255 + 0.5).astype(int) - as_u8.astype(int)).max() <= 1
    assert np.array_equal(c.colorize_array(gray, uint8=True), as_u8)


@pytest.mark.slow
def test_guided_8bit_path_matches_the_float_path(tiny_model_path):
    """Hinted and reference-guided 8-bit outputs take the fused join too (the CLI's and the editor's)."""
    from colorize.pipeline import Colorizer

    c = Colorizer.from_pretrained(tiny_model_path, device="cpu")
    gray = np.random.default_rng(1).random((90, 140), dtype=np.float32)
    reference = np.random.default_rng(2).random((60, 80, 3), dtype=np.float32)
    for guidance in ({"hints": [(20, 30, "#c04020"), (100, 60, "#2040c0")]}, {"reference": reference}):
        as_float = c.colorize_array(gray, **guidance)
        as_u8 = c.colorize_array(gray, uint8=True, **guidance)
        assert as_u8.dtype == np.uint8 and as_u8.shape == (90, 140, 3)
        assert np.abs((np.clip(as_float, 0, 1) * 255 + 0.5).astype(int) - as_u8.astype(int)).max() <= 1
