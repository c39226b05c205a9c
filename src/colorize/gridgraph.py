"""Solvers on the 8-connected pixel grid, numpy only: an edge-aware linear solve and a geodesic distance.

Why a module of its own: the hint propagation (Levin et al. 2004) needs a sparse symmetric solve over
the pixel graph and the hint reach a multi-source shortest-path search. General sparse libraries
(scipy's SuperLU and Dijkstra) did both, but scipy weighed 143 MB of the default install's 331 MB
(issue 15), and the grid's structure gives exact solvers in plain numpy:

* :func:`grid_solve` -- ``(L_w + diag(extra)) x = b`` with ``L_w`` the weighted graph Laplacian.
  Ordered row by row the matrix is block-tridiagonal (a row couples only to the rows above and
  below), so block Gaussian elimination with one dense ``w x w`` inverse per row (``w`` the short side)
  solves it exactly: ``h w^3`` work, done from both ends at once in two threads, 0.27-0.33 s at the
  256 x 192 render size here (SuperLU: 0.28-0.35 s). Larger grids (a render size above ~256) use
  Jacobi-preconditioned conjugate gradients with the stencil as the matrix.
* :func:`geodesic_distance` -- the distance to the nearest seed along the grid: Dijkstra in the
  compiled kernel where it is built; else alternate downward and upward sweeps over the rows relax
  each row from its neighbour row and then along itself, where the 1-D chain's shortest paths are
  one cumulative minimum; repeated until nothing changes they reach the exact shortest-path
  distances (a Bellman-Ford fixed point); paths that wind need more passes.

The four edge sets of an ``h x w`` grid are a :class:`GridEdges`; :func:`neighbour_differences`
gives an array's differences along them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DIRECT_MAX_ENTRIES = 256 * 256 * 256
"""The direct solve keeps one ``w x w`` float64 matrix per row: up to this many entries (134 MB, a
256 x 256 grid) it is used, above it conjugate gradients."""


class GridEdges(NamedTuple):
    """One value per edge of an ``h x w`` 8-connected grid (weights, costs or differences).

    ``right[i, j]`` joins (i, j)-(i, j+1), shape (h, w-1); ``down[i, j]`` joins (i, j)-(i+1, j),
    (h-1, w); ``down_right[i, j]`` joins (i, j)-(i+1, j+1) and ``down_left[i, j]`` joins
    (i, j+1)-(i+1, j), both (h-1, w-1). Leading axes (channels) are allowed before the last two.
    """

    right: np.ndarray
    down: np.ndarray
    down_right: np.ndarray
    down_left: np.ndarray

    def transposed(self) -> GridEdges:
        """The same graph on the transposed grid (rows become columns)."""
        t = lambda a: np.swapaxes(a, -1, -2)  # noqa: E731
        return GridEdges(t(self.down), t(self.right), t(self.down_right), t(self.down_left))

    def map(self, fn) -> GridEdges:
        """``fn`` applied to each edge set."""
        return GridEdges(*(fn(a) for a in self))


def neighbour_differences(a: np.ndarray) -> GridEdges:
    """The differences of ``a`` (..., h, w) along the grid's edges (first end minus second).

    >>> e = neighbour_differences(np.array([[0.0, 1.0], [3.0, 7.0]]))
    >>> e.right.tolist(), e.down.tolist(), e.down_right.tolist(), e.down_left.tolist()
    ([[-1.0], [-4.0]], [[-3.0, -6.0]], [[-7.0]], [[-2.0]])
    """
    a = np.asarray(a)
    return GridEdges(a[..., :, :-1] - a[..., :, 1:], a[..., :-1, :] - a[..., 1:, :],
                     a[..., :-1, :-1] - a[..., 1:, 1:], a[..., :-1, 1:] - a[..., 1:, :-1])


def degree(weights: GridEdges) -> np.ndarray:
    """The weighted degree of each pixel (h, w): the sum of the weights of its edges."""
    d = np.zeros((weights.down.shape[-2] + 1, weights.right.shape[-1] + 1), np.float64)
    d[:, :-1] += weights.right
    d[:, 1:] += weights.right
    d[:-1] += weights.down
    d[1:] += weights.down
    d[:-1, :-1] += weights.down_right
    d[1:, 1:] += weights.down_right
    d[:-1, 1:] += weights.down_left
    d[1:, :-1] += weights.down_left
    return d


def _apply(weights: GridEdges, diagonal: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(diag(diagonal) - W) x`` for x (h, w, C): the matrix of :func:`grid_solve` as a stencil."""
    r, dn, dr, dl = (a[..., None] for a in weights)
    y = diagonal[..., None] * x
    y[:, :-1] -= r * x[:, 1:]
    y[:, 1:] -= r * x[:, :-1]
    y[:-1] -= dn * x[1:]
    y[1:] -= dn * x[:-1]
    y[:-1, :-1] -= dr * x[1:, 1:]
    y[1:, 1:] -= dr * x[:-1, :-1]
    y[:-1, 1:] -= dl * x[1:, :-1]
    y[1:, :-1] -= dl * x[:-1, 1:]
    return y


def _coupling_t_times(v: np.ndarray, dr: np.ndarray, dl: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``U^T m`` for the coupling ``U`` of a row to the next (``U[k, k] = -v[k]``, ``U[k, k+1] = -dr[k]``,
    ``U[k+1, k] = -dl[k]``: pixel k to the next row's k, k+1, k-1), tridiagonal, so O(w) per column."""
    out = -v[:, None] * m
    out[1:] -= dr[:, None] * m[:-1]
    out[:-1] -= dl[:, None] * m[1:]
    return out


def _coupling_times(v: np.ndarray, dr: np.ndarray, dl: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``U m`` for the coupling of :func:`_coupling_t_times`."""
    out = -v[:, None] * m
    out[:-1] -= dr[:, None] * m[1:]
    out[1:] -= dl[:, None] * m[:-1]
    return out


def _add_row_block(s: np.ndarray, diagonal: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``s += A_ii``, the row's own tridiagonal block (its diagonal, minus the weights to its neighbours)."""
    j = np.arange(s.shape[0])
    s[j, j] += diagonal
    s[j[:-1], j[1:]] -= right
    s[j[1:], j[:-1]] -= right
    return s


def _sweep(weights: GridEdges, diagonal: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Block elimination of rows ``0 .. n-1`` (rows of length w, the short side), downward.

    ``S_i = A_ii - U_{i-1}^T S_{i-1}^-1 U_{i-1}`` and ``f_i = S_i^-1 (b_i - U_{i-1}^T f_{i-1})``, ``A_ii`` the
    row's own tridiagonal block. Returns the inverses ``S_i^-1``, the ``f_i``, and what the eliminated
    rows add to row ``n``'s block and right-hand side (``-U^T S^-1 U`` and ``-U^T f``).
    """
    w = b.shape[1]
    right, down, down_right, down_left = weights
    inverses = np.empty((n, w, w))
    forward = np.empty((n, *b.shape[1:]))
    s_in, r_in = np.zeros((w, w)), np.zeros(b.shape[1:])  # what the rows above add to row i
    for i in range(n):
        inv = inverses[i] = np.linalg.inv(_add_row_block(s_in, diagonal[i], right[i]))
        forward[i] = inv @ (b[i] + r_in)
        edges = down[i], down_right[i], down_left[i]
        coupled = _coupling_t_times(*edges, inv).T  # S^-1 U = (U^T S^-1)^T: S^-1 is symmetric
        s_in, r_in = -_coupling_t_times(*edges, coupled), -_coupling_t_times(*edges, forward[i])
    return inverses, forward, s_in, r_in


def _back_substitute(weights: GridEdges, inverses: np.ndarray, forward: np.ndarray, x_next: np.ndarray) -> np.ndarray:
    """``x_i = f_i - S_i^-1 U_i x_{i+1}`` for the rows :func:`_sweep` eliminated, from the row after them."""
    _, down, down_right, down_left = weights
    x = np.empty_like(forward)
    for i in range(len(forward) - 1, -1, -1):
        x[i] = forward[i] - inverses[i] @ _coupling_times(down[i], down_right[i], down_left[i], x_next)
        x_next = x[i]
    return x


def _block_solve(weights: GridEdges, diagonal: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Block-tridiagonal elimination from both ends at once (a twisted factorization).

    The rows above the middle row ``k`` are eliminated downward and the rows below it upward (the
    same :func:`_sweep` on the vertically flipped grid), in two threads: numpy's LAPACK and matmul
    calls release the GIL. Row ``k`` then gets both sides' contributions and is solved, and each side
    is back-substituted from it. Exact: the same elimination, ordered differently. The threads share
    the cores' BLAS (:func:`colorize.runtime.blas_split_pool`; measured at 256 x 192 on 2 cores: one
    sweep with OpenBLAS's 2 threads 0.36-0.48 s, with 1 thread 0.55-0.58 s; both ends at once with
    1 thread each 0.27-0.33 s).
    """
    from .runtime import blas_split_pool

    h = b.shape[0]
    k = h // 2
    right, down, down_right, down_left = weights
    flipped = GridEdges(right[::-1], down[::-1], down_left[::-1], down_right[::-1])  # row r <-> h-1-r
    with blas_split_pool(2) as pool:
        above = pool.submit(_sweep, weights, diagonal, b, k)
        below = pool.submit(_sweep, flipped, diagonal[::-1], b[::-1], h - 1 - k)
        (inv_a, f_a, s_a, r_a), (inv_b, f_b, s_b, r_b) = above.result(), below.result()
        x_k = np.linalg.solve(_add_row_block(s_a + s_b, diagonal[k], right[k]), b[k] + r_a + r_b)
        top = pool.submit(_back_substitute, weights, inv_a, f_a, x_k)
        bottom = pool.submit(_back_substitute, flipped, inv_b, f_b, x_k)
        return np.concatenate([top.result(), x_k[None], bottom.result()[::-1]])


def _conjugate_gradients(weights: GridEdges, diagonal: np.ndarray, b: np.ndarray, x0: np.ndarray | None,
                         rtol: float, maxiter: int) -> np.ndarray:
    """Jacobi-preconditioned CG, all channels at once (each with its own step sizes)."""
    x = np.zeros_like(b) if x0 is None else np.array(x0, np.float64).reshape(b.shape)
    inv_diag = (1.0 / diagonal)[..., None]
    r = b - _apply(weights, diagonal, x)
    z = inv_diag * r
    p = z.copy()
    rz = np.einsum("hwc,hwc->c", r, z)
    stop = rtol * np.sqrt(np.einsum("hwc,hwc->c", b, b))
    for _ in range(maxiter):
        if np.all(np.sqrt(np.einsum("hwc,hwc->c", r, r)) <= stop):
            break
        ap = _apply(weights, diagonal, p)
        alpha = rz / np.maximum(np.einsum("hwc,hwc->c", p, ap), 1e-300)
        x += alpha * p
        r -= alpha * ap
        z = inv_diag * r
        rz_new = np.einsum("hwc,hwc->c", r, z)
        p = z + (rz_new / np.maximum(rz, 1e-300)) * p
        rz = rz_new
    return x


def grid_solve(weights: GridEdges, extra: np.ndarray, b: np.ndarray, *, x0: np.ndarray | None = None,
               rtol: float = 1e-6, maxiter: int = 2000) -> np.ndarray:
    """Solve ``(L + diag(extra)) x = b`` on the grid: ``L`` the Laplacian of the edge ``weights``.

    ``extra`` (h, w) >= 0 must make the matrix positive definite (some entry > 0); ``b`` (h, w, C).
    Exact (block elimination) while the short side ``s`` and long side ``l`` have ``l s^2 <=``
    :data:`DIRECT_MAX_ENTRIES`; above, CG warm-started from ``x0`` to a residual of ``rtol |b|``.
    Returns float64 (h, w, C).

    >>> wts = GridEdges(np.ones((2, 1)), np.ones((1, 2)), np.zeros((1, 1)), np.zeros((1, 1)))
    >>> x = grid_solve(wts, np.array([[1.0, 0], [0, 0]]), np.array([[[1.0]], [[0]], [[0]], [[0]]]).reshape(2, 2, 1))
    >>> np.round(x[..., 0], 6).tolist()   # a 2x2 ring held at 1 by one pixel: all of it goes to 1
    [[1.0, 1.0], [1.0, 1.0]]
    """
    b = np.asarray(b, np.float64)
    weights = weights.map(lambda a: np.asarray(a, np.float64))
    h, w = b.shape[:2]
    diagonal = degree(weights) + np.asarray(extra, np.float64)
    long_side, short_side = max(h, w), min(h, w)
    if long_side * short_side * short_side > DIRECT_MAX_ENTRIES:
        return _conjugate_gradients(weights, diagonal, b, x0, rtol, maxiter)
    if h < w:  # rows of the short side's length: the loop runs along the long side
        x = _block_solve(weights.transposed(), diagonal.T, b.transpose(1, 0, 2))
        return x.transpose(1, 0, 2)
    return _block_solve(weights, diagonal, b)


def _relax_along_rows(d: np.ndarray, cum: np.ndarray, i: int) -> None:
    """Shortest paths within row ``i`` (a chain): ``d[x] = min_k d[k] + |cum[x] - cum[k]|`` in place."""
    row, c = d[i], cum[i]
    np.minimum(row, np.minimum.accumulate(row - c) + c, out=row)
    rev, rc = row[::-1], c[-1] - c[::-1]
    np.minimum(rev, np.minimum.accumulate(rev - rc) + rc, out=rev)


def _relax_from(d: np.ndarray, cum: np.ndarray, i: int, k: int, straight: np.ndarray, to_right: np.ndarray,
                to_left: np.ndarray) -> None:
    """Row ``i`` of ``d`` relaxed from its neighbour row ``k`` (the edge costs ``straight`` k->i,
    ``to_right`` k's pixel x -> i's x+1, ``to_left`` x+1 -> x), then along itself; in place."""
    other, row = d[k], d[i]
    np.minimum(row, other + straight, out=row)
    np.minimum(row[1:], other[:-1] + to_right, out=row[1:])
    np.minimum(row[:-1], other[1:] + to_left, out=row[:-1])
    _relax_along_rows(d, cum, i)


def geodesic_distance(costs: GridEdges, seeds: np.ndarray, *, limit: float = np.inf, max_passes: int = 500) -> np.ndarray:
    """The shortest-path distance (h, w) from each pixel to the nearest ``seeds`` pixel along the grid.

    ``costs`` are the (positive) lengths of the edges. Distances above ``limit`` are ``inf``, as is
    every pixel when there is no seed. Exact either way: Dijkstra in the compiled kernel
    (:func:`colorize.kernels.geodesic_dijkstra`, ~0.01 s at 256 x 192), else numpy row sweeps that
    stop when a pass changes nothing (or after ``max_passes``, leaving upper bounds); paths that wind
    need more passes: ~11 on a smooth 256 x 192 test pattern, ~20 on a random maze (0.09 and 0.15 s).

    >>> c = GridEdges(np.ones((1, 3)), np.ones((0, 4)), np.ones((0, 3)), np.ones((0, 3)))
    >>> geodesic_distance(c, np.array([[False, True, False, False]])).tolist()
    [[1.0, 0.0, 1.0, 2.0]]
    """
    from .kernels import geodesic_dijkstra

    seeds = np.asarray(seeds, bool)
    costs = costs.map(lambda a: np.asarray(a, np.float64))
    fast = geodesic_dijkstra(costs, seeds, limit)  # the compiled kernel, when it is built
    return fast if fast is not None else _geodesic_sweeps(costs, seeds, limit, max_passes)


def _geodesic_sweeps(costs: GridEdges, seeds: np.ndarray, limit: float, max_passes: int) -> np.ndarray:
    """:func:`geodesic_distance` in numpy, by row sweeps to a fixed point (without the C kernel)."""
    if seeds.shape[0] > seeds.shape[1]:  # loop over the short side: fewer, longer numpy operations
        return _geodesic_sweeps(costs.transposed(), seeds.T, limit, max_passes).T
    h, w = seeds.shape
    d = np.where(seeds, 0.0, np.inf)
    if not seeds.any():
        return d
    right, down, down_right, down_left = costs
    cum = np.zeros((h, w))
    np.cumsum(right, axis=1, out=cum[:, 1:])
    for i in range(h):
        _relax_along_rows(d, cum, i)
    for _ in range(max_passes):
        before = d.copy()
        for i in range(1, h):  # downward: each row from the one above
            _relax_from(d, cum, i, i - 1, down[i - 1], down_right[i - 1], down_left[i - 1])
        for i in range(h - 2, -1, -1):  # upward: each row from the one below (the diagonals swap roles)
            _relax_from(d, cum, i, i + 1, down[i], down_left[i], down_right[i])
        if not (d < before).any():
            break
    d[d > limit] = np.inf
    return d
