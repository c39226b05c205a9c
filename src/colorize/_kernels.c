/* Fused full-resolution kernel of the photo pipeline (see colorize/kernels.py).
 *
 * One pass per output pixel instead of a dozen whole-image float passes in torch:
 *   1. bilinearly upsample the guided filter's low-resolution coefficients (a_u, a_v, b_u, b_v)
 *      (align_corners=False, exactly as torch.nn.functional.interpolate);
 *   2. chroma u, v = a * y + b, with y the original full-resolution luma;
 *   3. gamut-safe YUV -> sRGB join: if y + chroma leaves the sRGB cube, scale the chroma down
 *      (hue kept) just enough to fit, so the luma stays exactly y (colorize.color.combine_yuv_gamut_safe);
 *   4. round to uint8 and write interleaved RGB.
 *
 * Plain C with no Python API: loaded with ctypes, which releases the GIL, so Python threads can
 * run row bands in parallel. Built by setup.py when a compiler is present; otherwise the torch
 * implementation is used and gives the same pixels (within one level of rounding).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static inline float clamp01(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }

/* Largest s with 0 <= y + s * d <= 1 for one channel, 1 where d is ~0; branch-free so it vectorizes. */
static inline float channel_limit(float y, float d) {
    int live = d > 1e-6f || d < -1e-6f;
    float num = live ? (d > 0.f ? 1.f : 0.f) - y : 1.f;
    return num / (live ? d : 1.f);
}

/* One output row: coefficients already at full width (au, av, bu, bv), luma yr -> RGB bytes. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void join_row(const float *restrict yr, const float *restrict au, const float *restrict av,
                     const float *restrict bu, const float *restrict bv, const float *restrict m,
                     uint8_t *restrict rr, uint8_t *restrict gg, uint8_t *restrict bb, int W) {
    const float m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5];
    for (int x = 0; x < W; x++) {
        float yy = clamp01(yr[x]);
        float u = au[x] * yy + bu[x], v = av[x] * yy + bv[x];
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

/*
 * y:      H x W float32 luma in [0, 1], rows `y_stride` floats apart
 * coef:   4 planes of h x w float32 (a_u, a_v, b_u, b_v), contiguous
 * m:      6 floats: the YUV -> RGB matrix's chroma columns, row-major (r_u, r_v, g_u, g_v, b_u, b_v)
 * out:    H x W x 3 uint8, rows `out_stride` bytes apart
 * rows [row0, row1) are written. Returns 0, or -1 if scratch memory could not be allocated.
 */
int guided_join_u8(const float *y, int H, int W, long y_stride, const float *coef, int h, int w,
                   const float *m, uint8_t *out, long out_stride, int row0, int row1) {
    const float sx = (float)w / (float)W, sy = (float)h / (float)H;
    /* scratch: x0, x1 (int), tx, 4 full-width coefficient rows (float), 3 channel rows (bytes), 4 low rows */
    size_t bytes = sizeof(int) * 2 * (size_t)W + sizeof(float) * 5 * (size_t)W + 3 * (size_t)W + sizeof(float) * 4 * (size_t)w;
    char *scratch = malloc(bytes);
    if (!scratch) return -1;
    int *x0 = (int *)scratch, *x1 = x0 + W;
    float *tx = (float *)(x1 + W), *full = tx + W, *line = full + 4 * (size_t)W;
    uint8_t *rgb = (uint8_t *)(line + 4 * (size_t)w);
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
    int last_j0 = -1;
    float last_ty = -1.f;
    for (int r = row0; r < row1; r++) {
        float s = ((float)r + 0.5f) * sy - 0.5f;
        if (s < 0.f) s = 0.f;
        int j0 = (int)s;
        if (j0 > h - 1) j0 = h - 1;
        int j1 = j0 < h - 1 ? j0 + 1 : j0;
        float ty = s - (float)j0;
        if (j0 != last_j0 || ty != last_ty) { /* upsampling repeats rows only at the borders */
            for (int c = 0; c < 4; c++) {
                const float *p0 = coef + c * plane + (long)j0 * w, *p1 = coef + c * plane + (long)j1 * w;
                float *dst = line + (long)c * w;
                for (int i = 0; i < w; i++) dst[i] = p0[i] + ty * (p1[i] - p0[i]);
                widen(dst, x0, x1, tx, full + (long)c * W, W);
            }
            last_j0 = j0;
            last_ty = ty;
        }
        join_row(y + (long)r * y_stride, full, full + W, full + 2 * (long)W, full + 3 * (long)W, m,
                 rgb, rgb + W, rgb + 2 * (long)W, W);
        uint8_t *o = out + (long)r * out_stride;
        for (int x = 0; x < W; x++) {
            o[3 * x + 0] = rgb[x];
            o[3 * x + 1] = rgb[W + x];
            o[3 * x + 2] = rgb[2 * W + x];
        }
    }
    free(scratch);
    return 0;
}
