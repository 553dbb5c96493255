/* cpu/softmax_ce.c — row-wise softmax cross-entropy (stable log-sum-exp),
 * with ignored rows (target < 0), forward and backward; both may run in
 * place (core/backend.h). */
#include "cpu/cpu_ops.h"
#include "cpu/simd_math.h"

#include <math.h>

/* dst[i] = exp(src[i] - shift), vectorized (cpu/simd_math.h, <= 1 ulp). */
SV_CLONES static void ce_exp_shifted(float *dst, const float *src, float shift, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = sv_expf(src[i] - shift);
}

void cpu_softmax_ce_fwd(float *losses, float *probs, const float *logits,
                        const int32_t *targets, int M, int V)
{
    if (M <= 0 || V <= 0)
        return;
    #pragma omp parallel for if ((size_t)M * (size_t)V > 16384)
    for (int m = 0; m < M; m++) {
        const float *x = logits + (size_t)m * V;
        float *p = probs + (size_t)m * V;
        float mx = x[0];
        for (int v = 1; v < V; v++)
            if (x[v] > mx)
                mx = x[v];
        const int32_t t = targets[m];
        /* A target outside [0, V) is treated as ignored rather than read
         * out of bounds. Read before p is written: p may be x. */
        const float xt = (t < 0 || t >= V) ? 0.0f : x[t];
        ce_exp_shifted(p, x, mx, V);
        double sum = 0.0;
        for (int v = 0; v < V; v++)
            sum += p[v];
        const float inv = (float)(1.0 / sum);
        for (int v = 0; v < V; v++)
            p[v] *= inv;
        if (t < 0 || t >= V)
            losses[m] = 0.0f;
        else
            losses[m] = (float)(log(sum) - (double)(xt - mx));
    }
}

void cpu_softmax_ce_bwd(float *dlogits, const float *probs, const int32_t *targets,
                        const float *dlosses, int M, int V)
{
    if (!dlogits || M <= 0 || V <= 0)
        return;
    const int inplace = dlogits == probs; /* overwrite instead of add */
    #pragma omp parallel for if ((size_t)M * (size_t)V > 16384)
    for (int m = 0; m < M; m++) {
        const int32_t t = targets[m];
        float *d = dlogits + (size_t)m * V;
        if (t < 0 || t >= V) {
            if (inplace)
                for (int v = 0; v < V; v++)
                    d[v] = 0.0f;
            continue;
        }
        const float g = dlosses[m];
        const float *p = probs + (size_t)m * V;
        if (inplace)
            for (int v = 0; v < V; v++)
                d[v] = p[v] * g;
        else
            for (int v = 0; v < V; v++)
                d[v] += p[v] * g;
        d[t] -= g;
    }
}
