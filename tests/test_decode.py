"""The numpy decode of the distribution head (colorize.decode): annealed mean and the luminance-guided consensus."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colorize.decode import annealed_mean, consensus_pool, decode_logits
from colorize.imaging import ab_bin_centers_np


def test_annealed_mean_matches_the_torch_decode():
    torch = pytest.importorskip("torch")
    from colorize.bins import annealed_mean as torch_annealed_mean

    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(2, 262, 5, 7)) * 4).astype(np.float32)
    centers = ab_bin_centers_np(10)
    for t in (0.05, 0.38, 1.0):
        want = torch_annealed_mean(torch.from_numpy(logits), torch.from_numpy(centers), t).numpy()
        assert np.abs(annealed_mean(logits, centers, t) - want).max() < 1e-3, t
        # logits and their log-softmax decode alike (the annealing is shift-invariant per pixel)
        log_p = torch.log_softmax(torch.from_numpy(logits), 1).numpy()
        assert np.abs(annealed_mean(log_p, centers, t) - want).max() < 1e-3, t


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 9), seed=st.integers(0, 10**6))
def test_consensus_pool_keeps_a_uniform_field_and_mixes_only_neighbours(size, seed):
    rng = np.random.default_rng(seed)
    luma = rng.random((1, 1, 24, 20)).astype(np.float32)
    field = np.broadcast_to(rng.normal(size=(1, 5, 1, 1)), (1, 5, 6, 5)).astype(np.float32)
    assert np.allclose(consensus_pool(field, luma, size), field, atol=1e-5)  # a weighted mean of equal values
    spike = np.zeros((1, 1, 6, 5), np.float32)
    spike[0, 0, 3, 2] = 1.0
    pooled = consensus_pool(spike, luma, size)
    r = size // 2
    reach = np.zeros_like(spike, bool)
    reach[0, 0, max(0, 3 - r):3 + r + 1, max(0, 2 - r):2 + r + 1] = True
    assert np.all(pooled[~reach] == 0) and np.all(pooled >= 0) and pooled.sum() > 0
    if size <= 1:
        assert np.array_equal(pooled, spike)


def test_consensus_turns_a_flat_region_to_one_mode_and_stops_at_an_edge():
    # Two bins; the left half of the picture is one gray level, the right half another. On the left,
    # alternate pixels weakly prefer bin 0 and bin 1 except one that strongly prefers bin 0 (a blotchy
    # region); on the right every pixel prefers bin 1.
    h, w = 8, 16
    logits = np.zeros((1, 2, h, w), np.float32)
    logits[0, 0, :, :8] = np.where(np.indices((h, 8)).sum(0) % 2 == 0, 0.3, -0.3)
    logits[0, 0, 4, 4] = 3.0
    logits[0, 1, :, 8:] = 4.0
    luma = np.zeros((1, 1, h, w), np.float32)
    luma[..., 8:] = 0.8
    centers = np.array([[-40.0, 0.0], [40.0, 0.0]], np.float32)
    plain = decode_logits(logits, luma, centers, 0.38, consensus=0)
    pooled = decode_logits(logits, luma, centers, 0.38, consensus=7)
    left_plain, left_pooled = plain[0, 0, :, :8], pooled[0, 0, :, :8]
    assert left_pooled.std() < 0.5 * left_plain.std()  # the region agrees ...
    assert (left_pooled[2:6, 1:7] < 0).all()  # ... on the mode its neighbours find likely together
    assert np.allclose(pooled[0, 0, :, 8:], plain[0, 0, :, 8:], atol=0.5)  # the other side is left alone


def test_the_caller_s_logits_are_left_alone():
    rng = np.random.default_rng(1)
    centers = ab_bin_centers_np(10)
    for shape in ((1, 262, 1, 1), (2, 262, 3, 4)):  # (1 x 1: the channels-last view would be contiguous)
        logits = rng.normal(size=shape).astype(np.float32)
        kept = logits.copy()
        annealed_mean(logits, centers, 0.38)
        decode_logits(logits, np.zeros((shape[0], 1, 4, 4), np.float32), centers, 0.38, consensus=3)
        assert np.array_equal(logits, kept)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="expects"):
        consensus_pool(np.zeros((2, 3, 4), np.float32), np.zeros((1, 1, 4, 4), np.float32), 3)


def _reference_pool(logp: np.ndarray, guide: np.ndarray, radius: int, sigma: float) -> np.ndarray:
    """The separable pooling written out as shifted slices (what the matrix form must equal)."""

    def one_axis(x: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
        n = x.shape[axis]
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        xp, gp = np.pad(x, pad, mode="edge"), np.pad(g, pad, mode="edge")
        acc, total = np.zeros_like(x), np.zeros_like(g)
        for d in range(2 * radius + 1):
            sl = [slice(None)] * 4
            sl[axis] = slice(d, d + n)
            w = np.exp(-np.square(gp[tuple(sl)] - g) / (2 * sigma**2))
            acc += w * xp[tuple(sl)]
            total += w
        return acc / total

    return one_axis(one_axis(logp, guide, 3), guide, 2)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), radius=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_consensus_pool_equals_the_shifted_slice_formula(h, w, radius, seed):
    rng = np.random.default_rng(seed)
    logp = rng.normal(size=(2, 3, h, w)).astype(np.float32)
    guide = rng.random((2, 1, h, w)).astype(np.float32)
    got = consensus_pool(logp, guide, 2 * radius + 1, 0.2)
    assert got.shape == logp.shape and got.flags.c_contiguous
    assert np.allclose(got, _reference_pool(logp, guide, radius, 0.2), atol=1e-5)


def _blas_threads_now() -> int:
    from threadpoolctl import threadpool_info

    counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return min(counts) if counts else -1


def test_the_consensus_runs_on_one_blas_thread_and_gives_the_count_back(monkeypatch):
    """OpenBLAS's threads made the consensus's many small products 60-100x slower while another process
    used the cores; one thread inside the decode, the process's own count before and after."""
    from threadpoolctl import threadpool_limits

    import colorize.decode as decode

    seen = []
    real = decode._pool_last_but_one
    monkeypatch.setattr(decode, "_pool_last_but_one", lambda *a: seen.append(_blas_threads_now()) or real(*a))
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, 262, 12, 16)).astype(np.float32)
    luma = rng.random((1, 1, 48, 64)).astype(np.float32)
    with threadpool_limits(2, user_api="blas"):  # what this process had (a 2-core machine's OpenBLAS default)
        if _blas_threads_now() != 2:
            pytest.skip("no BLAS library that threadpoolctl can size")
        decode_logits(logits, luma, ab_bin_centers_np(10), 0.38, consensus=11)
        assert seen == [1, 1]
        assert _blas_threads_now() == 2


def test_overlapping_blas_limits_hold_the_lowest_until_the_last_ends(monkeypatch):
    """Web requests and the hints' thread pool may overlap: the lowest limit holds, and the count found
    before the first block is restored once, by the last one out (a fake controller records the calls)."""
    import threading

    from colorize import runtime

    calls: list = []

    class Limiter:
        def restore_original_limits(self) -> None:
            calls.append("restore")

    class Controller:
        def limit(self, *, limits, user_api):
            calls.append((user_api, limits))
            return Limiter()

    monkeypatch.setitem(runtime._blas_state, "controller", Controller())
    inside, release = threading.Event(), threading.Event()

    def other_request() -> None:
        with runtime.blas_threads(1):
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=other_request)
    worker.start()
    assert inside.wait(10)
    with runtime.blas_threads(2):  # asks for more while the other block holds 1: nothing changes
        with runtime.blas_threads(1):
            pass
    assert calls == [("blas", 1)]
    release.set()
    worker.join(10)
    assert calls == [("blas", 1), "restore"] and runtime._blas_state["holders"] == 0
    with runtime.blas_threads(3):  # a lower limit inside a higher one does take effect
        with runtime.blas_threads(1):
            pass
    assert calls[2:] == [("blas", 3), ("blas", 1), "restore"]
