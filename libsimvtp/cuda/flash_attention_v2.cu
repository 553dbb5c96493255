/* cuda/flash_attention_v2.cu — the second version of the fused attention,
 * the bf16 table's default. Same contract, numerics and saved lse[B,H,N] as
 * flash_attention.cu (SIMVTP_CUDA_ATTENTION=flash1 selects that one, for
 * comparison); what changes is how operands reach the tensor cores:
 *  - q, k, v (and dO in the backward) are rounded to a bf16 copy once per
 *    call, one pass over memory, instead of in every block that reads a
 *    tile (the rounding is the same, so the products see the same values);
 *  - tiles reach shared memory with cp.async, double-buffered: the next tile
 *    loads while the warps compute on this one, and rows past N are
 *    zero-filled by the copy itself;
 *  - tiles stay row-major; every B fragment comes from ldmatrix (four 8x8
 *    matrices per instruction), .trans for the products that need a tile
 *    transposed (P·V, dS^T·Q, P^T·dO, dS·K), so the first version's
 *    transposing 2-byte stores are gone;
 *  - a block owns 128 rows (8 warps share each streamed tile).
 * A warp still owns 16 rows in registers, and each output element has one
 * writer (no atomics), so runs are bitwise reproducible. */
#include "cuda/flash_common.cuh"

#define F2_TILE 64             /* rows per streamed tile */
#define F2_LD(HD) ((HD) + FA_PAD)
/* warps per block (16 rows each): 8 warps share each streamed tile, which
 * halves the L2 traffic of 4 at the same occupancy (the dK/dV kernel's 229
 * registers allow one 8-warp block or two 4-warp blocks per SM) */
#define F2_FWD_WARPS 8
#define F2_BWD_WARPS 8

typedef __nv_bfloat16 bf16;

#ifdef SV_CUDA_EMULATE /* tests/cuda/emu: the same instructions on the CPU */
__device__ __forceinline__ void f2_cp16(bf16 *dst, const bf16 *src, int bytes) { emu_cp_async16(dst, src, bytes); }
__device__ __forceinline__ void f2_commit() { emu_cp_async_commit(); }
template <int PENDING>
__device__ __forceinline__ void f2_wait() { emu_cp_async_wait(PENDING); }
__device__ __forceinline__ void f2_ldm_x4_trans(uint32_t r[4], const bf16 *p) { emu_ldmatrix_x4(r, p, 1); }
__device__ __forceinline__ void f2_ldm_x4(uint32_t r[4], const bf16 *p) { emu_ldmatrix_x4(r, p, 0); }
#else
/* 16 bytes global -> shared, asynchronous; bytes < 16 zero-fills the rest */
__device__ __forceinline__ void f2_cp16(bf16 *dst, const bf16 *src, int bytes)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ void f2_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

template <int PENDING>
__device__ __forceinline__ void f2_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING) : "memory");
}

/* Four 8x8 bf16 matrices from shared memory, transposed: lanes 8j..8j+7 give
 * the row addresses of matrix j, and register j of a lane holds elements
 * (2t, g) and (2t+1, g) of matrix j — a B fragment of m16n8k16 when the rows
 * are 8 consecutive k of a row-major [k][n] tile. */
__device__ __forceinline__ void f2_ldm_x4_trans(uint32_t r[4], const bf16 *p)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}

/* Four 8x8 bf16 matrices from shared memory as stored: register j of a lane
 * holds elements (g, 2t) and (g, 2t+1) of matrix j. */
__device__ __forceinline__ void f2_ldm_x4(uint32_t r[4], const bf16 *p)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}
#endif

/* Queue rows [row0, row0+64) of one head's slice (bf16, row stride ld
 * elements) into the row-major tile dst[64][HD+PAD]; rows >= N become 0. */
template <int HD>
__device__ __forceinline__ void f2_load_tile(bf16 *dst, const bf16 *src, size_t ld, int row0, int N)
{
    constexpr int CH = HD / 8; /* 16-byte chunks per row */
    for (int i = threadIdx.x; i < F2_TILE * CH; i += blockDim.x) {
        const int r = i / CH, c = (i % CH) * 8, row = row0 + r, in = row < N;
        f2_cp16(dst + r * F2_LD(HD) + c, src + (size_t)(in ? row : 0) * ld + c, in ? 16 : 0);
    }
}

/* A fragments of 16 rows x HD straight from the bf16 copy (rows >= N: 0) */
template <int HD>
__device__ __forceinline__ void f2_afrag(uint32_t a[HD / 16][4], const bf16 *src, size_t ld, int row0,
                                         int N)
{
    const int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
    const int r0 = row0 + g, r1 = row0 + g + 8;
    const bf16 *p0 = src + (size_t)(r0 < N ? r0 : 0) * ld, *p1 = src + (size_t)(r1 < N ? r1 : 0) * ld;
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++) {
        const int c = kk * 16 + 2 * t;
        a[kk][0] = r0 < N ? fa_ld32(p0 + c) : 0u;
        a[kk][1] = r1 < N ? fa_ld32(p1 + c) : 0u;
        a[kk][2] = r0 < N ? fa_ld32(p0 + c + 8) : 0u;
        a[kk][3] = r1 < N ? fa_ld32(p1 + c + 8) : 0u;
    }
}

/* acc[n][.] += A (16 x HD, registers) * T^T, T [64][HD] a row-major tile
 * (the score products: B[k = d][n = row] = T[row][d]): for column blocks n,
 * n+1 and k block kk the matrices are (rows 8n.., cols 16kk), (rows 8n..,
 * cols 16kk+8), then the same for rows 8(n+1).. — b0, b1 for n, then n+1.
 * The same products as fa_mm_rows with a quarter of the shared loads. */
template <int HD>
__device__ __forceinline__ void f2_mm_rows(float acc[8][4], const uint32_t a[HD / 16][4], const bf16 *tile)
{
    const int lane = threadIdx.x & 31, mj = lane >> 3, mi = lane & 7;
    const bf16 *row = tile + ((mj >> 1) * 8 + mi) * F2_LD(HD) + (mj & 1) * 8;
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++)
#pragma unroll
        for (int n = 0; n < 8; n += 2) {
            uint32_t b[4];
            f2_ldm_x4(b, row + n * 8 * F2_LD(HD) + kk * 16);
            fa_mma(acc[n], a[kk], b[0], b[1]);
            fa_mma(acc[n + 1], a[kk], b[2], b[3]);
        }
}

/* acc[d][.] += P (16 x 64, fp32 C fragments, rounded to bf16) * M, M [64][HD]
 * a row-major tile: for k block kk and column blocks d, d+1, the matrices are
 * (rows kk*16..+7, cols 8d), (rows kk*16+8..+15, cols 8d), then the same at
 * cols 8(d+1) — registers b0, b1 for d and b0, b1 for d+1. */
template <int HD>
__device__ __forceinline__ void f2_mm_cols(float acc[HD / 8][4], const float p[8][4], const bf16 *m)
{
    const int lane = threadIdx.x & 31, mj = lane >> 3, mi = lane & 7;
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
        uint32_t a[4];
        a[0] = fa_pack(p[2 * kk][0], p[2 * kk][1]);
        a[1] = fa_pack(p[2 * kk][2], p[2 * kk][3]);
        a[2] = fa_pack(p[2 * kk + 1][0], p[2 * kk + 1][1]);
        a[3] = fa_pack(p[2 * kk + 1][2], p[2 * kk + 1][3]);
        const bf16 *row = m + (kk * 16 + (mj & 1) * 8 + mi) * F2_LD(HD) + (mj >> 1) * 8;
#pragma unroll
        for (int d = 0; d < HD / 8; d += 2) {
            uint32_t b[4];
            f2_ldm_x4_trans(b, row + d * 8);
            fa_mma(acc[d], a, b[0], b[1]);
            fa_mma(acc[d + 1], a, b[2], b[3]);
        }
    }
}

/* ------------------------------------------------------------------ forward
 * grid (ceil(N/128), H, B), 8 warps; qkv is the bf16 copy [B,N,3,H,HD]; out
 * in fp32, or in bf16 (O: the bf16 table's attention_fwd_pin_o) */
template <int HD, typename O>
__global__ void __launch_bounds__(F2_FWD_WARPS * 32, 2)
f2_fwd_kernel(O *out, float *lse, const bf16 *qkv, const uint8_t *keyvalid, int N, int H,
              float scale_log2)
{
    __shared__ __align__(16) bf16 ks[2][F2_TILE * F2_LD(HD)];
    __shared__ __align__(16) bf16 vs[2][F2_TILE * F2_LD(HD)];
    __shared__ float kbias[2][F2_TILE];
    const int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x >> 5;
    const int C = H * HD;
    const size_t ld = 3 * (size_t)C;
    const bf16 *base = qkv + (size_t)b * N * ld + (size_t)h * HD;
    const bf16 *kb = base + C, *vb = base + 2 * (size_t)C;
    const uint8_t *valid = keyvalid ? keyvalid + (size_t)b * N : NULL;
    const int q0 = blockIdx.x * (16 * F2_FWD_WARPS) + warp * 16;
    const int ntiles = (N + F2_TILE - 1) / F2_TILE;

    f2_load_tile<HD>(ks[0], kb, ld, 0, N);
    f2_load_tile<HD>(vs[0], vb, ld, 0, N);
    f2_commit();
    if (threadIdx.x < F2_TILE) kbias[0][threadIdx.x] = fa_key_bias(valid, threadIdx.x, N);

    uint32_t qa[HD / 16][4];
    f2_afrag<HD>(qa, base, ld, q0, N);
    float o[HD / 8][4];
#pragma unroll
    for (int d = 0; d < HD / 8; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;

    for (int j = 0; j < ntiles; j++) {
        const int cur = j & 1, more = j + 1 < ntiles;
        float nb = 0.0f;
        if (more) { /* the other buffer was released by the last iteration's barrier */
            f2_load_tile<HD>(ks[cur ^ 1], kb, ld, (j + 1) * F2_TILE, N);
            f2_load_tile<HD>(vs[cur ^ 1], vb, ld, (j + 1) * F2_TILE, N);
            f2_commit();
            if (threadIdx.x < F2_TILE) nb = fa_key_bias(valid, (j + 1) * F2_TILE + threadIdx.x, N);
            f2_wait<1>();
        } else {
            f2_wait<0>();
        }
        __syncthreads();

        float s[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
        f2_mm_rows<HD>(s, qa, ks[cur]);
        fa_softmax_tile<HD>(s, o, kbias[cur], scale_log2, m0, m1, l0, l1);
        f2_mm_cols<HD>(o, s, vs[cur]);
        if (more && threadIdx.x < F2_TILE) kbias[cur ^ 1][threadIdx.x] = nb;
        __syncthreads(); /* this tile's buffers may be refilled */
    }

    fa_fwd_store<HD>(o, m0, m1, l0, l1, out, lse, b, h, H, N, q0);
}

/* ------------------------------------------------------------------ backward
 * dK, dV for 128 keys per block; grid (ceil(N/128), H, B), 8 warps. A warp owns
 * 16 keys: S^T = K Q^T, P^T = exp2(scale S^T + bias - lse), dP^T = V dO^T,
 * dS^T = P^T (dP^T - D); dV += P^T dO, dK += dS^T Q (scaled at the end).
 * Query rows past N are zero-filled with lse = +inf: P = 0 there. */
template <int HD>
__global__ void __launch_bounds__(F2_BWD_WARPS * 32)
f2_bwd_kv_kernel(float *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse, const float *D,
                 const uint8_t *keyvalid, int N, int H, float scale_log2, float scale)
{
    __shared__ __align__(16) bf16 qs[2][F2_TILE * F2_LD(HD)];
    __shared__ __align__(16) bf16 dos[2][F2_TILE * F2_LD(HD)];
    __shared__ float ls[2][F2_TILE], ds[2][F2_TILE];
    const int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x >> 5;
    const int g = (threadIdx.x & 31) >> 2;
    const int C = H * HD;
    const size_t ld = 3 * (size_t)C;
    const bf16 *base = qkv + (size_t)b * N * ld + (size_t)h * HD;
    const bf16 *dob = dout + (size_t)b * N * C + (size_t)h * HD;
    const float *lb = lse + ((size_t)b * H + h) * N, *Db = D + ((size_t)b * H + h) * N;
    const uint8_t *valid = keyvalid ? keyvalid + (size_t)b * N : NULL;
    const int k0 = blockIdx.x * (16 * F2_BWD_WARPS) + warp * 16;
    const int ntiles = (N + F2_TILE - 1) / F2_TILE;

    f2_load_tile<HD>(qs[0], base, ld, 0, N);
    f2_load_tile<HD>(dos[0], dob, C, 0, N);
    f2_commit();
    if (threadIdx.x < F2_TILE) {
        const int q = threadIdx.x;
        ls[0][q] = q < N ? lb[q] : INFINITY;
        ds[0][q] = q < N ? Db[q] : 0.0f;
    }

    uint32_t ka[HD / 16][4], va[HD / 16][4];
    f2_afrag<HD>(ka, base + C, ld, k0, N);
    f2_afrag<HD>(va, base + 2 * (size_t)C, ld, k0, N);
    const float kb0 = fa_key_bias(valid, k0 + g, N), kb1 = fa_key_bias(valid, k0 + g + 8, N);
    float dk[HD / 8][4], dv[HD / 8][4];
#pragma unroll
    for (int d = 0; d < HD / 8; d++)
#pragma unroll
        for (int j = 0; j < 4; j++) dk[d][j] = dv[d][j] = 0.0f;

    for (int j = 0; j < ntiles; j++) {
        const int cur = j & 1, more = j + 1 < ntiles;
        float nl = INFINITY, nd = 0.0f;
        if (more) {
            f2_load_tile<HD>(qs[cur ^ 1], base, ld, (j + 1) * F2_TILE, N);
            f2_load_tile<HD>(dos[cur ^ 1], dob, C, (j + 1) * F2_TILE, N);
            f2_commit();
            const int q = (j + 1) * F2_TILE + threadIdx.x;
            if (threadIdx.x < F2_TILE && q < N) {
                nl = lb[q];
                nd = Db[q];
            }
            f2_wait<1>();
        } else {
            f2_wait<0>();
        }
        __syncthreads();

        float p[8][4], dp[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int i = 0; i < 4; i++) p[n][i] = dp[n][i] = 0.0f;
        f2_mm_rows<HD>(p, ka, qs[cur]);
        f2_mm_rows<HD>(dp, va, dos[cur]);
        fa_bwd_kv_probs(p, dp, kb0, kb1, ls[cur], ds[cur], scale_log2);
        f2_mm_cols<HD>(dv, p, dos[cur]);
        f2_mm_cols<HD>(dk, dp, qs[cur]);
        if (more && threadIdx.x < F2_TILE) {
            ls[cur ^ 1][threadIdx.x] = nl;
            ds[cur ^ 1][threadIdx.x] = nd;
        }
        __syncthreads();
    }

    fa_store_rows<HD>(dqkv, dk, scale, 1, b, h, H, N, k0);
    fa_store_rows<HD>(dqkv, dv, 1.0f, 2, b, h, H, N, k0);
}

/* dQ for 128 queries per block; grid (ceil(N/128), H, B), 8 warps. A warp
 * owns 16 queries: S = Q K^T, P, dP = dO V^T, dS = P (dP - D); dQ += dS K. */
template <int HD>
__global__ void __launch_bounds__(F2_BWD_WARPS * 32, 2)
f2_bwd_q_kernel(float *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse, const float *D,
                const uint8_t *keyvalid, int N, int H, float scale_log2, float scale)
{
    __shared__ __align__(16) bf16 ks[2][F2_TILE * F2_LD(HD)];
    __shared__ __align__(16) bf16 vs[2][F2_TILE * F2_LD(HD)];
    __shared__ float kbias[2][F2_TILE];
    const int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x >> 5;
    const int g = (threadIdx.x & 31) >> 2;
    const int C = H * HD;
    const size_t ld = 3 * (size_t)C;
    const bf16 *base = qkv + (size_t)b * N * ld + (size_t)h * HD;
    const bf16 *kb = base + C, *vb = base + 2 * (size_t)C;
    const bf16 *dob = dout + (size_t)b * N * C + (size_t)h * HD;
    const float *lb = lse + ((size_t)b * H + h) * N, *Db = D + ((size_t)b * H + h) * N;
    const uint8_t *valid = keyvalid ? keyvalid + (size_t)b * N : NULL;
    const int q0 = blockIdx.x * (16 * F2_BWD_WARPS) + warp * 16;
    const int r0 = q0 + g, r1 = q0 + g + 8;
    const int ntiles = (N + F2_TILE - 1) / F2_TILE;

    f2_load_tile<HD>(ks[0], kb, ld, 0, N);
    f2_load_tile<HD>(vs[0], vb, ld, 0, N);
    f2_commit();
    if (threadIdx.x < F2_TILE) kbias[0][threadIdx.x] = fa_key_bias(valid, threadIdx.x, N);

    uint32_t qa[HD / 16][4], da[HD / 16][4];
    f2_afrag<HD>(qa, base, ld, q0, N);
    f2_afrag<HD>(da, dob, C, q0, N);
    const float l0 = r0 < N ? lb[r0] : INFINITY, l1 = r1 < N ? lb[r1] : INFINITY;
    const float d0 = r0 < N ? Db[r0] : 0.0f, d1 = r1 < N ? Db[r1] : 0.0f;
    float dq[HD / 8][4];
#pragma unroll
    for (int d = 0; d < HD / 8; d++) dq[d][0] = dq[d][1] = dq[d][2] = dq[d][3] = 0.0f;

    for (int j = 0; j < ntiles; j++) {
        const int cur = j & 1, more = j + 1 < ntiles;
        float nb = 0.0f;
        if (more) {
            f2_load_tile<HD>(ks[cur ^ 1], kb, ld, (j + 1) * F2_TILE, N);
            f2_load_tile<HD>(vs[cur ^ 1], vb, ld, (j + 1) * F2_TILE, N);
            f2_commit();
            if (threadIdx.x < F2_TILE) nb = fa_key_bias(valid, (j + 1) * F2_TILE + threadIdx.x, N);
            f2_wait<1>();
        } else {
            f2_wait<0>();
        }
        __syncthreads();

        float p[8][4], dp[8][4];
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
            for (int i = 0; i < 4; i++) p[n][i] = dp[n][i] = 0.0f;
        f2_mm_rows<HD>(p, qa, ks[cur]);
        f2_mm_rows<HD>(dp, da, vs[cur]);
        fa_bwd_q_probs(p, dp, kbias[cur], l0, l1, d0, d1, scale_log2);
        f2_mm_cols<HD>(dq, dp, ks[cur]);
        if (more && threadIdx.x < F2_TILE) kbias[cur ^ 1][threadIdx.x] = nb;
        __syncthreads();
    }

    fa_store_rows<HD>(dqkv, dq, scale, 0, b, h, H, N, q0);
}

/* ------------------------------------------------------------------ host side */
#ifndef SV_CUDA_EMULATE
/* qkv in fp32 (converted here, once per call) or, qkv16 non-NULL, already
 * in bf16 (the bf16 table keeps it so: attention_fwd_pin / attention_bwd_pin);
 * out (O) in fp32, or in bf16 (attention_fwd_pin_o / attention_bwd_pin_o) */
template <int HD, typename O>
static void f2_forward(sv_cuda_ctx *ctx, O *out, float *lse, const float *qkv, const bf16 *qkv16,
                       const uint8_t *keyvalid, int B, int N, int H)
{
    const char *op = "attention_fwd (flash v2)";
    bf16 *owned = qkv16 ? NULL : sv_cuda_to_bf16(ctx, qkv, (size_t)B * N * 3 * H * HD, op);
    const bf16 *q16 = qkv16 ? qkv16 : owned;
    if (!q16) return;
    const int rows = 16 * F2_FWD_WARPS;
    const dim3 grid((unsigned)((N + rows - 1) / rows), (unsigned)H, (unsigned)B);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)HD);
    f2_fwd_kernel<HD, O><<<grid, F2_FWD_WARPS * 32, 0, ctx->stream>>>(out, lse, q16, keyvalid, N, H,
                                                                  scale_log2);
    SV_LAUNCH_OK(ctx, op);
    sv_cuda_scratch_free(ctx, owned);
}

template <int HD, typename O>
static void f2_backward(sv_cuda_ctx *ctx, float *dqkv, const float *dout, const float *qkv,
                        const bf16 *qkv16, const O *out, const float *lse,
                        const uint8_t *keyvalid, int B, int N, int H)
{
    const char *op = "attention_bwd (flash v2)";
    const size_t rows = (size_t)B * N * H;
    float *D = (float *)sv_cuda_scratch(ctx, rows * sizeof(float), op, 1);
    bf16 *owned = D && !qkv16 ? sv_cuda_to_bf16(ctx, qkv, rows * 3 * HD, op) : NULL;
    const bf16 *q16 = qkv16 ? qkv16 : owned;
    bf16 *do16 = D && q16 ? (bf16 *)sv_cuda_scratch(ctx, rows * HD * sizeof(bf16), op, 1) : NULL;
    if (do16) {
        /* D and the bf16 copy of dO in one pass */
        fa_dot<HD>(ctx, D, dout, out, B, N, H, do16);
        const int per = 16 * F2_BWD_WARPS;
        const dim3 grid((unsigned)((N + per - 1) / per), (unsigned)H, (unsigned)B);
        const float scale = 1.0f / sqrtf((float)HD), scale_log2 = 1.4426950408889634f * scale;
        if (SV_LAUNCH_OK(ctx, op)) {
            f2_bwd_kv_kernel<HD><<<grid, F2_BWD_WARPS * 32, 0, ctx->stream>>>(
                dqkv, do16, q16, lse, D, keyvalid, N, H, scale_log2, scale);
            if (SV_LAUNCH_OK(ctx, op)) {
                f2_bwd_q_kernel<HD><<<grid, F2_BWD_WARPS * 32, 0, ctx->stream>>>(
                    dqkv, do16, q16, lse, D, keyvalid, N, H, scale_log2, scale);
                SV_LAUNCH_OK(ctx, op);
            }
        }
    }
    sv_cuda_scratch_free(ctx, do16);
    sv_cuda_scratch_free(ctx, owned);
    sv_cuda_scratch_free(ctx, D);
}

/* qkv16: qkv is already bf16; out16: out (O) is bf16 */
template <typename O>
static int flash2_fwd(O *out, float *lse, const void *qkv, int qkv16, const uint8_t *keyvalid, int B, int N,
                      int H, int hd)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || B <= 0 || N <= 0 || H <= 0) return 0;
    const float *q32 = qkv16 ? NULL : (const float *)qkv;
    const bf16 *q16 = qkv16 ? (const bf16 *)qkv : NULL;
    if (hd == 64) f2_forward<64>(ctx, out, lse, q32, q16, keyvalid, B, N, H);
    else if (hd == 32) f2_forward<32>(ctx, out, lse, q32, q16, keyvalid, B, N, H);
    return 0;
}

template <typename O>
static int flash2_bwd(float *dqkv, const float *dout, const void *qkv, int qkv16, const O *out,
                      const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    sv_cuda_ctx *ctx = sv_cuda_current();
    if (!ctx || !dqkv || B <= 0 || N <= 0 || H <= 0) return 0;
    const float *q32 = qkv16 ? NULL : (const float *)qkv;
    const bf16 *q16 = qkv16 ? (const bf16 *)qkv : NULL;
    if (hd == 64) f2_backward<64>(ctx, dqkv, dout, q32, q16, out, lse, keyvalid, B, N, H);
    else if (hd == 32) f2_backward<32>(ctx, dqkv, dout, q32, q16, out, lse, keyvalid, B, N, H);
    return 0;
}

int sv_cuda_flash2_fwd(float *out, float *lse, const float *qkv, const uint8_t *keyvalid, int B,
                       int N, int H, int hd)
{
    return flash2_fwd(out, lse, qkv, 0, keyvalid, B, N, H, hd);
}

int sv_cuda_flash2_bwd(float *dqkv, const float *dout, const float *qkv, const float *out,
                       const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    return flash2_bwd(dqkv, dout, qkv, 0, out, lse, keyvalid, B, N, H, hd);
}

int sv_cuda_flash2_fwd16(float *out, float *lse, const void *qkv16, const uint8_t *keyvalid, int B,
                         int N, int H, int hd)
{
    return flash2_fwd(out, lse, qkv16, 1, keyvalid, B, N, H, hd);
}

int sv_cuda_flash2_bwd16(float *dqkv, const float *dout, const void *qkv16, const float *out,
                         const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    return flash2_bwd(dqkv, dout, qkv16, 1, out, lse, keyvalid, B, N, H, hd);
}

int sv_cuda_flash2_fwd16o(void *out16, float *lse, const void *qkv16, const uint8_t *keyvalid, int B,
                          int N, int H, int hd)
{
    return flash2_fwd((bf16 *)out16, lse, qkv16, 1, keyvalid, B, N, H, hd);
}

int sv_cuda_flash2_bwd16o(float *dqkv, const float *dout, const void *qkv16, const void *out16,
                          const float *lse, const uint8_t *keyvalid, int B, int N, int H, int hd)
{
    return flash2_bwd(dqkv, dout, qkv16, 1, (const bf16 *)out16, lse, keyvalid, B, N, H, hd);
}
#endif /* SV_CUDA_EMULATE */
