/* Fused full-resolution kernel of the photo pipeline (see colorize/kernels.py).
 *
 * One pass per output pixel instead of a dozen whole-image float passes in torch:
 *   1. bilinearly upsample the guided filter's low-resolution coefficients (a_u, a_v, b_u, b_v)
 *      (align_corners=False, as torch.nn.functional.interpolate: along x, then between rows);
 *   2. chroma u, v = a * y + b, with y the original full-resolution luma;
 *   3. gamut-safe YUV -> sRGB join: if y + chroma leaves the sRGB cube, scale the chroma down
 *      (hue kept) just enough to fit, so the luma stays exactly y (colorize.color.combine_yuv_gamut_safe);
 *   4. round to uint8 and write interleaved RGB, or RGBX (a fourth byte of 255) which Pillow maps
 *      without a copy as its own 4-byte pixel layout and the JPEG encoder reads directly.
 *
 * Plain C with no Python API: loaded with ctypes, which releases the GIL, so Python threads can
 * run row bands in parallel. Built by setup.py when a compiler is present; otherwise the torch
 * implementation is used and gives the same pixels (within one level of rounding).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline float clamp01(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }

/* Largest s with 0 <= y + s * d <= 1 for one channel, 1 where d is ~0; branch-free so it vectorizes. */
static inline float channel_limit(float y, float d) {
    int live = d > 1e-6f || d < -1e-6f;
    float num = live ? (d > 0.f ? 1.f : 0.f) - y : 1.f;
    return num / (live ? d : 1.f);
}

/* One output row: the coefficients (a_u, a_v, b_u, b_v) of the two nearest low-resolution rows,
 * already widened to W (lo: the row above, hi: below), blended by ty here; luma yr -> RGB bytes. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void join_row(const float *restrict yr, const float *restrict lo, const float *restrict hi, float ty, int W,
                     const float *restrict m, uint8_t *restrict rr, uint8_t *restrict gg, uint8_t *restrict bb) {
    const float m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5];
    const float *restrict au0 = lo, *restrict av0 = lo + W, *restrict bu0 = lo + 2 * (long)W, *restrict bv0 = lo + 3 * (long)W;
    const float *restrict au1 = hi, *restrict av1 = hi + W, *restrict bu1 = hi + 2 * (long)W, *restrict bv1 = hi + 3 * (long)W;
    for (int x = 0; x < W; x++) {
        float yy = clamp01(yr[x]);
        float au = au0[x] + ty * (au1[x] - au0[x]), av = av0[x] + ty * (av1[x] - av0[x]);
        float bu = bu0[x] + ty * (bu1[x] - bu0[x]), bv = bv0[x] + ty * (bv1[x] - bv0[x]);
        float u = au * yy + bu, v = av * yy + bv;
        float dr = m0 * u + m1 * v, dg = m2 * u + m3 * v, db = m4 * u + m5 * v;
        /* k = 1 inside the cube; outside, the chroma scale that just fits (luma kept) */
        float k = channel_limit(yy, dr), kg = channel_limit(yy, dg), kb = channel_limit(yy, db);
        k = kg < k ? kg : k;
        k = kb < k ? kb : k;
        k = k > 1.f ? 1.f : k;
        rr[x] = (uint8_t)(clamp01(yy + k * dr) * 255.f + 0.5f);
        gg[x] = (uint8_t)(clamp01(yy + k * dg) * 255.f + 0.5f);
        bb[x] = (uint8_t)(clamp01(yy + k * db) * 255.f + 0.5f);
    }
}

/* Bilinear (align_corners=False) widening of one coefficient row from w to W samples. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void widen(const float *restrict src, const int *restrict x0, const int *restrict x1,
                  const float *restrict tx, float *restrict dst, int W) {
    for (int x = 0; x < W; x++) dst[x] = src[x0[x]] + tx[x] * (src[x1[x]] - src[x0[x]]);
}

/* Planar R, G, B rows -> RGBX bytes (X = 255); as 32-bit words on little-endian CPUs, which vectorizes. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void interleave_rgbx(const uint8_t *restrict rr, const uint8_t *restrict gg, const uint8_t *restrict bb,
                            uint8_t *restrict o, int W) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t word[256];
    for (int x0 = 0; x0 < W; x0 += 256) { /* via a small buffer: `o` need not be 4-byte aligned */
        int n = W - x0 < 256 ? W - x0 : 256;
        for (int x = 0; x < n; x++)
            word[x] = (uint32_t)rr[x0 + x] | ((uint32_t)gg[x0 + x] << 8) | ((uint32_t)bb[x0 + x] << 16) | 0xff000000u;
        memcpy(o + 4 * (long)x0, word, 4 * (size_t)n);
    }
#else
    for (int x = 0; x < W; x++) {
        o[4 * x + 0] = rr[x];
        o[4 * x + 1] = gg[x];
        o[4 * x + 2] = bb[x];
        o[4 * x + 3] = 255;
    }
#endif
}

/* The 4 coefficient planes' low-resolution row j, widened to W samples each, into dst (4 x W). */
static void widen_row(const float *coef, long plane, int w, int j, const int *x0, const int *x1, const float *tx,
                      float *dst, int W) {
    for (int c = 0; c < 4; c++) widen(coef + c * plane + (long)j * w, x0, x1, tx, dst + (long)c * W, W);
}

/*
 * y:      H x W float32 luma in [0, 1], rows `y_stride` floats apart
 * coef:   4 planes of h x w float32 (a_u, a_v, b_u, b_v), contiguous
 * m:      6 floats: the YUV -> RGB matrix's chroma columns, row-major (r_u, r_v, g_u, g_v, b_u, b_v)
 * out:    H x W x px_bytes uint8 (3: RGB, 4: RGBX with X = 255), rows `out_stride` bytes apart
 * rows [row0, row1) are written. Returns 0, or -1 if scratch memory could not be allocated.
 * (Named colorize_join_px, not guided_join_u8 as before the pixel stride: a stale build is refused
 * by name instead of being called with the wrong arguments.)
 */
int colorize_join_px(const float *y, int H, int W, long y_stride, const float *coef, int h, int w,
                     const float *m, uint8_t *out, long out_stride, int px_bytes, int row0, int row1) {
    const float sx = (float)w / (float)W, sy = (float)h / (float)H;
    /* scratch: x0, x1 (int), tx, two widened low rows of 4 planes (float), 3 channel rows (bytes) */
    size_t bytes = sizeof(int) * 2 * (size_t)W + sizeof(float) * 9 * (size_t)W + 3 * (size_t)W;
    char *scratch = malloc(bytes);
    if (!scratch) return -1;
    int *x0 = (int *)scratch, *x1 = x0 + W;
    float *tx = (float *)(x1 + W), *lo = tx + W, *hi = lo + 4 * (size_t)W;
    uint8_t *rgb = (uint8_t *)(hi + 4 * (size_t)W);
    for (int x = 0; x < W; x++) {
        float s = ((float)x + 0.5f) * sx - 0.5f;
        if (s < 0.f) s = 0.f;
        int i = (int)s;
        if (i > w - 1) i = w - 1;
        x0[x] = i;
        x1[x] = i < w - 1 ? i + 1 : i;
        tx[x] = s - (float)i;
    }
    const long plane = (long)h * w;
    /* Widen each low-resolution row once (not once per output row: a 12 MP photo from a 256 px render
     * has ~16 output rows per low row), then blend the two nearest per output row. */
    int lo_row = -1, hi_row = -1;
    for (int r = row0; r < row1; r++) {
        float s = ((float)r + 0.5f) * sy - 0.5f;
        if (s < 0.f) s = 0.f;
        int j0 = (int)s;
        if (j0 > h - 1) j0 = h - 1;
        int j1 = j0 < h - 1 ? j0 + 1 : j0;
        float ty = s - (float)j0;
        if (lo_row != j0) {
            if (hi_row == j0) { /* moving down one low row: the old lower row is the new upper one */
                float *t = lo;
                lo = hi;
                hi = t;
                hi_row = -1;
            } else {
                widen_row(coef, plane, w, j0, x0, x1, tx, lo, W);
            }
            lo_row = j0;
        }
        if (hi_row != j1 && j1 != j0) {
            widen_row(coef, plane, w, j1, x0, x1, tx, hi, W);
            hi_row = j1;
        }
        join_row(y + (long)r * y_stride, lo, j1 == j0 ? lo : hi, ty, W, m, rgb, rgb + W, rgb + 2 * (long)W);
        uint8_t *o = out + (long)r * out_stride;
        if (px_bytes == 4) {
            interleave_rgbx(rgb, rgb + W, rgb + 2 * (long)W, o, W);
        } else {
            for (int x = 0; x < W; x++) {
                o[3 * x + 0] = rgb[x];
                o[3 * x + 1] = rgb[W + x];
                o[3 * x + 2] = rgb[2 * W + x];
            }
        }
    }
    free(scratch);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Multi-source shortest paths on the 8-connected grid (the hints' reach, colorize/gridgraph.py):
 * Dijkstra with an indexed binary heap, O(n log n) -- the numpy row sweeps need ~10-20 passes.
 *
 * right (h x w-1), down (h-1 x w), down_right (h-1 x w-1: (i,j)-(i+1,j+1)), down_left (h-1 x w-1:
 * (i,j+1)-(i+1,j)): positive edge lengths, contiguous float64. seeds: h x w bytes (non-zero: distance
 * 0). d: h x w output; distances above `limit` (and unreachable pixels) are +inf.
 * Returns 0, or -1 if memory could not be allocated.
 */
typedef struct {
    int64_t *heap, *pos; /* pos[p]: index in heap, -1 never queued, -2 settled */
    const double *d;
    int64_t size;
} Heap;

static void heap_swap(Heap *q, int64_t a, int64_t b) {
    int64_t pa = q->heap[a], pb = q->heap[b];
    q->heap[a] = pb;
    q->heap[b] = pa;
    q->pos[pb] = a;
    q->pos[pa] = b;
}

static void heap_up(Heap *q, int64_t k) {
    while (k > 0) {
        int64_t parent = (k - 1) / 2;
        if (q->d[q->heap[parent]] <= q->d[q->heap[k]]) break;
        heap_swap(q, parent, k);
        k = parent;
    }
}

static int64_t heap_pop(Heap *q) {
    int64_t top = q->heap[0];
    q->size--;
    if (q->size > 0) {
        q->heap[0] = q->heap[q->size];
        q->pos[q->heap[0]] = 0;
        int64_t k = 0;
        for (;;) {
            int64_t l = 2 * k + 1, r = l + 1, m = k;
            if (l < q->size && q->d[q->heap[l]] < q->d[q->heap[m]]) m = l;
            if (r < q->size && q->d[q->heap[r]] < q->d[q->heap[m]]) m = r;
            if (m == k) break;
            heap_swap(q, m, k);
            k = m;
        }
    }
    q->pos[top] = -2;
    return top;
}

int colorize_geodesic(const double *right, const double *down, const double *down_right, const double *down_left,
                      int h, int w, const uint8_t *seeds, double limit, double *d) {
    const int64_t n = (int64_t)h * w;
    Heap q = {malloc(sizeof(int64_t) * (size_t)n), malloc(sizeof(int64_t) * (size_t)n), d, 0};
    if (!q.heap || !q.pos) {
        free(q.heap);
        free(q.pos);
        return -1;
    }
    for (int64_t p = 0; p < n; p++) {
        q.pos[p] = -1;
        d[p] = INFINITY;
    }
    for (int64_t p = 0; p < n; p++) {
        if (seeds[p]) {
            d[p] = 0.0;
            q.heap[q.size] = p;
            q.pos[p] = q.size++;
        }
    }
    while (q.size > 0) {
        int64_t p = heap_pop(&q);
        double dp = d[p];
        if (dp > limit) break;
        int i = (int)(p / w), x = (int)(p % w);
        /* the up to 8 neighbours and the lengths of the edges to them */
        int64_t nb[8];
        double len[8];
        int k = 0;
        if (x + 1 < w) { nb[k] = p + 1; len[k++] = right[(int64_t)i * (w - 1) + x]; }
        if (x > 0) { nb[k] = p - 1; len[k++] = right[(int64_t)i * (w - 1) + x - 1]; }
        if (i + 1 < h) {
            nb[k] = p + w; len[k++] = down[p];
            if (x + 1 < w) { nb[k] = p + w + 1; len[k++] = down_right[(int64_t)i * (w - 1) + x]; }
            if (x > 0) { nb[k] = p + w - 1; len[k++] = down_left[(int64_t)i * (w - 1) + x - 1]; }
        }
        if (i > 0) {
            nb[k] = p - w; len[k++] = down[p - w];
            if (x > 0) { nb[k] = p - w - 1; len[k++] = down_right[(int64_t)(i - 1) * (w - 1) + x - 1]; }
            if (x + 1 < w) { nb[k] = p - w + 1; len[k++] = down_left[(int64_t)(i - 1) * (w - 1) + x]; }
        }
        for (int e = 0; e < k; e++) {
            int64_t t = nb[e];
            if (q.pos[t] == -2) continue;
            double via = dp + len[e];
            if (via < d[t]) {
                d[t] = via;
                if (q.pos[t] == -1) {
                    q.heap[q.size] = t;
                    q.pos[t] = q.size++;
                }
                heap_up(&q, q.pos[t]);
            }
        }
    }
    for (int64_t p = 0; p < n; p++)
        if (q.pos[p] != -2 || d[p] > limit) d[p] = INFINITY;
    free(q.heap);
    free(q.pos);
    return 0;
}
