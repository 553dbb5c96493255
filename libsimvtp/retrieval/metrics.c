/* retrieval/metrics.c — similarity matrices and R@1/5/10, MdR, MnR. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "core/status_internal.h"
#include "simvtp/retrieval.h"

int simvtp_similarity(const float *a, int na, const float *b, int nb, int dim, float *out)
{
    sv_clear_error();
    SV_CHECK_ARG(a && b && out, "simvtp_similarity: a, b and out must not be NULL");
    SV_CHECK_ARG(na > 0 && nb > 0 && dim > 0, "simvtp_similarity: na, nb, dim must be > 0 (got %d, %d, %d)", na, nb, dim);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, na, nb, dim, 1.0f, a, dim, b, dim, 0.0f, out, nb);
    return SIMVTP_OK;
}

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

int simvtp_retrieval_metrics_compute(const float *sim, int nq, int nc, const int32_t *truth,
                                     simvtp_retrieval_metrics *out)
{
    sv_clear_error();
    SV_CHECK_ARG(sim && truth && out, "simvtp_retrieval_metrics_compute: sim, truth and out must not be NULL");
    SV_CHECK_ARG(out->size == sizeof *out, "metrics.size must be sizeof(simvtp_retrieval_metrics)");
    SV_CHECK_ARG(nq > 0 && nc > 0, "need at least one query and one candidate (got %d x %d)", nq, nc);
    int *rank = malloc((size_t)nq * sizeof(int));
    if (!rank) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for %d ranks", nq);
    long long hit1 = 0, hit5 = 0, hit10 = 0;
    double sum = 0;
    for (int q = 0; q < nq; q++) {
        if (truth[q] < 0 || truth[q] >= nc) {
            free(rank);
            return sv_fail(SIMVTP_ERR_INVALID_ARG, "truth[%d] = %d is outside [0, %d)", q, truth[q], nc);
        }
        const float *row = sim + (size_t)q * nc;
        const float t = row[truth[q]];
        int r = 0;
        for (int c = 0; c < nc; c++) {
            if (!isfinite(row[c])) {
                free(rank);
                return sv_fail(SIMVTP_ERR_NONFINITE, "similarity[%d][%d] is not finite", q, c);
            }
            r += row[c] > t;
        }
        rank[q] = r;
        hit1 += r < 1;
        hit5 += r < 5;
        hit10 += r < 10;
        sum += r;
    }
    qsort(rank, (size_t)nq, sizeof(int), cmp_int);
    double median = (nq % 2) ? rank[nq / 2] : 0.5 * (rank[nq / 2 - 1] + rank[nq / 2]);
    free(rank);
    out->queries = nq;
    out->r1 = 100.0 * (double)hit1 / nq;
    out->r5 = 100.0 * (double)hit5 / nq;
    out->r10 = 100.0 * (double)hit10 / nq;
    out->median_rank = median + 1.0;
    out->mean_rank = sum / nq + 1.0;
    return SIMVTP_OK;
}
