/* retrieval/index.c — an in-memory embedding index with exact top-k search
 * by dot product (blocked CBLAS products + a bounded selection per query). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "core/status_internal.h"
#include "retrieval/index_internal.h"

#define SEARCH_BLOCK 4096 /* candidates scored per sgemm */

int simvtp_index_create(int dim, simvtp_index **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_index_create: out is NULL");
    *out = NULL;
    SV_CHECK_ARG(dim > 0 && dim <= 1 << 20, "simvtp_index_create: dim must be in [1, 2^20], got %d", dim);
    simvtp_index *x = calloc(1, sizeof *x);
    if (!x) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory creating an index");
    x->dim = dim;
    *out = x;
    return SIMVTP_OK;
}

void simvtp_index_free(simvtp_index *x)
{
    if (!x) return;
    free(x->emb);
    free(x->id_off);
    free(x->ids);
    free(x);
}

int simvtp_index_dim(const simvtp_index *x) { return x ? x->dim : SIMVTP_ERR_INVALID_ARG; }
int64_t simvtp_index_size(const simvtp_index *x) { return x ? x->n : SIMVTP_ERR_INVALID_ARG; }

int sv_index_reserve(simvtp_index *x, int64_t n_total, size_t id_bytes_total)
{
    if (n_total > x->cap) {
        int64_t cap = x->cap ? x->cap : 1024;
        while (cap < n_total) cap *= 2;
        float *e = realloc(x->emb, (size_t)cap * x->dim * sizeof(float));
        if (!e) return -1;
        x->emb = e;
        uint64_t *o = realloc(x->id_off, (size_t)cap * sizeof(uint64_t));
        if (!o) return -1;
        x->id_off = o;
        x->cap = cap;
    }
    if (id_bytes_total > x->ids_cap) {
        size_t cap = x->ids_cap ? x->ids_cap : 65536;
        while (cap < id_bytes_total) cap *= 2;
        char *s = realloc(x->ids, cap);
        if (!s) return -1;
        x->ids = s;
        x->ids_cap = cap;
    }
    return 0;
}

int simvtp_index_add(simvtp_index *x, const char *const *ids, const float *emb, int n)
{
    sv_clear_error();
    SV_CHECK_ARG(x && emb, "simvtp_index_add: index and emb must not be NULL");
    SV_CHECK_ARG(n > 0, "simvtp_index_add: n must be > 0 (got %d)", n);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += (ids && ids[i] ? strlen(ids[i]) : 0) + 1;
    if (sv_index_reserve(x, x->n + n, x->ids_len + bytes))
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory growing the index to %lld entries", (long long)(x->n + n));
    memcpy(x->emb + (size_t)x->n * x->dim, emb, (size_t)n * x->dim * sizeof(float));
    for (int i = 0; i < n; i++) {
        const char *s = ids && ids[i] ? ids[i] : "";
        size_t l = strlen(s) + 1;
        x->id_off[x->n + i] = x->ids_len;
        memcpy(x->ids + x->ids_len, s, l);
        x->ids_len += l;
    }
    x->n += n;
    return SIMVTP_OK;
}

const char *simvtp_index_id(const simvtp_index *x, int64_t i)
{
    if (!x || i < 0 || i >= x->n) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_index_id: bad index or position %lld", (long long)i);
        return NULL;
    }
    return x->ids + x->id_off[i];
}

/* Keep the k best (score desc, position asc) in sorted arrays. */
static void topk_insert(float *best_s, int64_t *best_i, int *count, int k, float s, int64_t i)
{
    int c = *count;
    if (c == k && !(s > best_s[k - 1])) return; /* equal score: the earlier position stays */
    int p = c < k ? c : k - 1;
    while (p > 0 && s > best_s[p - 1]) {
        best_s[p] = best_s[p - 1];
        best_i[p] = best_i[p - 1];
        p--;
    }
    best_s[p] = s;
    best_i[p] = i;
    if (c < k) *count = c + 1;
}

int simvtp_index_search(const simvtp_index *x, const float *queries, int nq, int k,
                        int64_t *out_idx, float *out_score)
{
    sv_clear_error();
    SV_CHECK_ARG(x && queries && out_idx, "simvtp_index_search: index, queries and out_idx must not be NULL");
    SV_CHECK_ARG(nq > 0 && k > 0 && k <= 1 << 20, "simvtp_index_search: nq and k must be > 0 (got %d, %d)", nq, k);
    const int dim = x->dim;
    const int qb = nq < 64 ? nq : 64;
    const int64_t blk = x->n < SEARCH_BLOCK ? (x->n ? x->n : 1) : SEARCH_BLOCK;
    float *scores = malloc((size_t)qb * blk * sizeof(float));
    float *bs = malloc((size_t)qb * k * sizeof(float));
    int64_t *bi = malloc((size_t)qb * k * sizeof(int64_t));
    int *cnt = malloc((size_t)qb * sizeof(int));
    if (!scores || !bs || !bi || !cnt) {
        free(scores); free(bs); free(bi); free(cnt);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for index search");
    }
    for (int q0 = 0; q0 < nq; q0 += qb) {
        const int nb = nq - q0 < qb ? nq - q0 : qb;
        memset(cnt, 0, (size_t)nb * sizeof(int));
        for (int64_t c0 = 0; c0 < x->n; c0 += blk) {
            const int64_t m = x->n - c0 < blk ? x->n - c0 : blk;
            if (nb == 1) /* one query: a matrix-vector product */
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m, dim, 1.0f, x->emb + (size_t)c0 * dim,
                            dim, queries + (size_t)q0 * dim, 1, 0.0f, scores, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, (int)m, dim, 1.0f,
                            queries + (size_t)q0 * dim, dim, x->emb + (size_t)c0 * dim, dim, 0.0f,
                            scores, (int)m);
            for (int q = 0; q < nb; q++)
                for (int64_t c = 0; c < m; c++)
                    topk_insert(bs + (size_t)q * k, bi + (size_t)q * k, &cnt[q], k,
                                scores[(size_t)q * m + c], c0 + c);
        }
        for (int q = 0; q < nb; q++)
            for (int j = 0; j < k; j++) {
                int have = j < cnt[q];
                out_idx[(size_t)(q0 + q) * k + j] = have ? bi[(size_t)q * k + j] : -1;
                if (out_score) out_score[(size_t)(q0 + q) * k + j] = have ? bs[(size_t)q * k + j] : 0.0f;
            }
    }
    free(scores); free(bs); free(bi); free(cnt);
    return SIMVTP_OK;
}
