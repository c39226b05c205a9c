"""The numpy geodesic distance equals Dijkstra's over the same 8-connected grid graph (SciPy)."""

from __future__ import annotations

import numpy as np
import pytest

from colorize.gridsolve import geodesic_distance

sp = pytest.importorskip("scipy.sparse")
csgraph = pytest.importorskip("scipy.sparse.csgraph")


def dijkstra_reference(y: np.ndarray, seeds: np.ndarray, edge: float, limit: float = np.inf) -> np.ndarray:
    h, w = y.shape
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, vals = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        xa = slice(max(0, -dx), w - max(0, dx))
        xb = slice(max(0, dx), w + min(0, dx))
        d = (y[: h - dy, xa] - y[dy:, xb]) * edge
        rows.append(idx[: h - dy, xa].ravel())
        cols.append(idx[dy:, xb].ravel())
        vals.append(np.sqrt(dy * dy + dx * dx + d * d).ravel())
    g = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w))
    return csgraph.dijkstra(g, directed=False, indices=np.flatnonzero(seeds), min_only=True, limit=limit).reshape(h, w)


@pytest.mark.parametrize("seed", range(6))
def test_geodesic_distance_equals_dijkstra(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 40, size=2)
    # smooth regions with hard edges and a spiral-like maze would need many sweeps: random blocks + noise
    y = (rng.integers(0, 4, size=(h // 4 + 1, w // 4 + 1)).repeat(4, 0).repeat(4, 1)[:h, :w] / 3.0
         + rng.normal(0, 0.02, size=(h, w)))
    seeds = rng.random((h, w)) < 0.01
    seeds.flat[rng.integers(h * w)] = True
    edge = float(rng.choice([0.0, 10.0, 100.0]))
    want = dijkstra_reference(y, seeds, edge, limit=30.0)
    got = geodesic_distance(y, seeds, edge=edge, limit=30.0)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)], rtol=1e-9, atol=1e-9)


def test_a_winding_corridor_needs_several_rounds_and_still_matches():
    """A serpentine path through walls: each round of sweeps only goes round one bend."""
    h, w = 21, 21
    y = np.ones((h, w))
    y[1::4, 1:-1] = 0.0          # horizontal corridors ...
    y[3::8, -2] = 0.0            # ... joined at alternating ends
    y[7::8, 1] = 0.0
    seeds = np.zeros((h, w), bool)
    seeds[1, 1] = True
    want = dijkstra_reference(y, seeds, edge=1000.0)
    got = geodesic_distance(y, seeds, edge=1000.0)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert got[17, 1] > 60  # the far corridor is reached along the path, not through the walls


def test_no_seeds_is_unreached_everywhere():
    assert np.isinf(geodesic_distance(np.zeros((4, 5)), np.zeros((4, 5), bool), edge=1.0)).all()
