"""The numpy grid solvers agree with scipy's general sparse ones (SuperLU, Dijkstra) on random grids."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colorize import gridgraph
from colorize.gridgraph import GridEdges, geodesic_distance, grid_solve, neighbour_differences

sp = pytest.importorskip("scipy.sparse")
spl = pytest.importorskip("scipy.sparse.linalg")
csgraph = pytest.importorskip("scipy.sparse.csgraph")


def _edges(h: int, w: int, rng: np.random.Generator, low: float = 0.01) -> GridEdges:
    return GridEdges(rng.uniform(low, 1, (h, w - 1)), rng.uniform(low, 1, (h - 1, w)),
                     rng.uniform(low, 1, (h - 1, w - 1)), rng.uniform(low, 1, (h - 1, w - 1)))


def _sparse(e: GridEdges, h: int, w: int):
    """The symmetric adjacency matrix of the grid with values ``e``, built the general way (as the
    hint propagation built it for SuperLU before)."""
    idx = np.arange(h * w).reshape(h, w)
    pairs = [(idx[:, :-1], idx[:, 1:], e.right), (idx[:-1], idx[1:], e.down),
             (idx[:-1, :-1], idx[1:, 1:], e.down_right), (idx[:-1, 1:], idx[1:, :-1], e.down_left)]
    rows = np.concatenate([a.ravel() for a, _, _ in pairs])
    cols = np.concatenate([b.ravel() for _, b, _ in pairs])
    vals = np.concatenate([v.ravel() for _, _, v in pairs])
    upper = sp.csr_matrix((vals, (rows, cols)), shape=(h * w, h * w))
    return (upper + upper.T).tocsr()


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1), (2, 3), (3, 4), (6, 9), (9, 6), (17, 17), (40, 23)])
def test_grid_solve_matches_superlu(shape):
    h, w = shape
    rng = np.random.default_rng(h * 31 + w)
    e = _edges(h, w, rng) if h > 1 and w > 1 else GridEdges(*(rng.uniform(0.1, 1, s) for s in [(h, w - 1), (h - 1, w), (max(h - 1, 0), max(w - 1, 0)), (max(h - 1, 0), max(w - 1, 0))]))
    extra = np.where(rng.random((h, w)) < 0.2, 100.0, 0.0) + 1e-5
    b = rng.standard_normal((h, w, 2))
    W = _sparse(e, h, w)
    A = (sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W + sp.diags(extra.ravel())).tocsc()
    want = spl.spsolve(A, b.reshape(h * w, 2)).reshape(h, w, 2)
    got = grid_solve(e, extra, b)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7 * np.abs(want).max())


def test_grid_solve_conjugate_gradients_above_the_direct_limit(monkeypatch):
    h, w = 12, 10
    rng = np.random.default_rng(3)
    e = _edges(h, w, rng, low=0.2)
    extra = np.full((h, w), 0.05)
    b = rng.standard_normal((h, w, 3))
    direct = grid_solve(e, extra, b)
    monkeypatch.setattr(gridgraph, "DIRECT_MAX_ENTRIES", 10)
    called = []
    real = gridgraph._conjugate_gradients
    monkeypatch.setattr(gridgraph, "_conjugate_gradients", lambda *a: called.append(1) or real(*a))
    cg = grid_solve(e, extra, b, rtol=1e-10, maxiter=5000)
    assert called
    np.testing.assert_allclose(cg, direct, rtol=1e-6, atol=1e-8)


@pytest.fixture(params=["c", "numpy"])
def geodesic_path(request, monkeypatch):
    """Both implementations: the compiled kernel's Dijkstra, and the numpy row sweeps without it."""
    from colorize import kernels

    if request.param == "c":
        assert kernels.fast_kernel_available()
    else:
        monkeypatch.setenv("COLORIZE_NO_C", "1")
    kernels._library.cache_clear()
    yield request.param
    monkeypatch.delenv("COLORIZE_NO_C", raising=False)
    kernels._library.cache_clear()


@pytest.mark.parametrize("shape,seeds", [((7, 11), 1), ((11, 7), 3), ((30, 40), 5), ((1, 9), 1), ((9, 1), 2), ((1, 1), 1)])
def test_geodesic_distance_matches_dijkstra(shape, seeds, geodesic_path):
    h, w = shape
    rng = np.random.default_rng(h + 100 * w)
    # a maze-like cost (high-contrast random luma, as strong edges make it): paths must wind
    y = rng.random((h, w)) ** 4
    d = neighbour_differences(y)
    c = GridEdges(*(np.sqrt(s + (dd * 100) ** 2) for s, dd in zip((1.0, 1.0, 2.0, 2.0), d)))
    mask = np.zeros((h, w), bool)
    mask.flat[rng.choice(h * w, seeds, replace=False)] = True
    want = csgraph.dijkstra(_sparse(c, h, w), directed=False, indices=np.flatnonzero(mask), min_only=True)
    got = geodesic_distance(c, mask)
    np.testing.assert_allclose(got.ravel(), want, rtol=1e-10)
    limit = float(np.median(want))
    cut = geodesic_distance(c, mask, limit=limit)
    assert np.array_equal(np.isinf(cut), got > limit)


def test_geodesic_distance_without_seeds_is_infinite(geodesic_path):
    c = GridEdges(np.ones((3, 3)), np.ones((2, 4)), np.ones((2, 3)), np.ones((2, 3)))
    assert np.isinf(geodesic_distance(c, np.zeros((3, 4), bool))).all()


def test_transposed_edges_describe_the_transposed_grid():
    rng = np.random.default_rng(0)
    y = rng.random((4, 6))
    t = neighbour_differences(y).transposed()
    want = neighbour_differences(y.T)
    # transposing swaps the ends of the right/down edges, so differences change sign there
    np.testing.assert_allclose(t.right, want.right)
    np.testing.assert_allclose(t.down, want.down)
    np.testing.assert_allclose(t.down_right, want.down_right)
    np.testing.assert_allclose(np.abs(t.down_left), np.abs(want.down_left))


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), seed=st.integers(0, 2**31 - 1), limit=st.sampled_from([np.inf, 0.0, 1.5, 4.0]))
def test_the_c_dijkstra_and_the_numpy_sweeps_agree(h, w, seed, limit):
    from colorize import kernels
    from colorize.gridgraph import _geodesic_sweeps

    if not kernels.fast_kernel_available():
        pytest.skip("the compiled kernel is not built here")
    rng = np.random.default_rng(seed)
    c = GridEdges(rng.uniform(0.1, 3, (h, w - 1)), rng.uniform(0.1, 3, (h - 1, w)), rng.uniform(0.1, 3, (h - 1, w - 1)),
                  rng.uniform(0.1, 3, (h - 1, w - 1)))
    seeds = rng.random((h, w)) < 0.2
    got = kernels.geodesic_dijkstra(c, seeds, limit)
    want = _geodesic_sweeps(c, seeds, limit, 500)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=1e-12)


def test_the_c_dijkstra_refuses_edge_arrays_of_the_wrong_shape():
    from colorize import kernels

    if not kernels.fast_kernel_available():
        pytest.skip("the compiled kernel is not built here")
    c = GridEdges(np.ones((3, 3)), np.ones((2, 4)), np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="edge costs"):
        kernels.geodesic_dijkstra(c, np.ones((3, 4), bool))
