/* simvtp/retrieval.h — retrieval scoring and search on L2-normalized
 * embeddings (from simvtp_encode_videos / simvtp_encode_texts): similarity
 * matrices, R@K / MdR / MnR, and an embedding index (.svtpi) with top-k
 * search.
 *
 * Thread safety: similarity and metrics are pure. An index may be searched
 * from many threads at once; adding, saving and freeing need exclusive use. */
#ifndef SIMVTP_RETRIEVAL_H
#define SIMVTP_RETRIEVAL_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[na, nb] = a[na, dim] . b[nb, dim]^T (cosine similarity for unit vectors). */
SIMVTP_API int simvtp_similarity(const float *a, int na, const float *b, int nb, int dim,
                                 float *out);

typedef struct simvtp_retrieval_metrics {
    size_t size;        /* sizeof(simvtp_retrieval_metrics): set before the call  */
    int queries;        /* number of queries ranked                                */
    double r1, r5, r10; /* 100 * fraction of queries with rank < K                 */
    double median_rank; /* median(rank) + 1 (MdR)                                  */
    double mean_rank;   /* mean(rank) + 1 (MnR)                                    */
} simvtp_retrieval_metrics;

/* sim[nq, nc] row-major (query x candidate); truth[q] = the matching
 * candidate of query q. rank = number of candidates scoring STRICTLY higher
 * than the truth (ties resolve in the query's favour, as the usual
 * sort-then-find evaluation does). Non-finite scores are an error. */
SIMVTP_API int simvtp_retrieval_metrics_compute(const float *sim, int nq, int nc,
                                                const int32_t *truth,
                                                simvtp_retrieval_metrics *out);

typedef struct simvtp_index simvtp_index;

SIMVTP_API int simvtp_index_create(int dim, simvtp_index **out);
SIMVTP_API void simvtp_index_free(simvtp_index *x);
SIMVTP_API int simvtp_index_dim(const simvtp_index *x);
SIMVTP_API int64_t simvtp_index_size(const simvtp_index *x);
/* Append n entries: ids[i] (a NUL-terminated string, may be NULL for "") and
 * emb[n, dim] (copied as given; pass normalized vectors for cosine scores). */
SIMVTP_API int simvtp_index_add(simvtp_index *x, const char *const *ids, const float *emb, int n);
SIMVTP_API const char *simvtp_index_id(const simvtp_index *x, int64_t i);
/* Top-k by dot product for each of nq queries: out_idx[nq, k] entry
 * positions (ties: lower position first; -1 past the end when k > size),
 * out_score[nq, k] (may be NULL). */
SIMVTP_API int simvtp_index_search(const simvtp_index *x, const float *queries, int nq, int k,
                                   int64_t *out_idx, float *out_score);
/* .svtpi files (docs/FORMATS.md): zstd-compressed when the build has zstd,
 * checksummed, written atomically. */
SIMVTP_API int simvtp_index_save(const simvtp_index *x, const char *path);
SIMVTP_API int simvtp_index_load(const char *path, simvtp_index **out);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_RETRIEVAL_H */
