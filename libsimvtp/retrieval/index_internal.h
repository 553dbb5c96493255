/* retrieval/index_internal.h — the embedding index's insides: ids in one
 * growing string arena, embeddings in one growing array. */
#ifndef SV_INDEX_INTERNAL_H
#define SV_INDEX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "simvtp/retrieval.h"

struct simvtp_index {
    int dim;
    int64_t n, cap;
    float *emb;          /* [cap, dim] */
    uint64_t *id_off;    /* [cap] offsets into ids */
    char *ids;           /* NUL-terminated strings */
    size_t ids_len, ids_cap;
};

/* Append one id string (copied). 0 or -1 when out of memory. */
int sv_index_reserve(simvtp_index *x, int64_t n_total, size_t id_bytes_total);

#endif /* SV_INDEX_INTERNAL_H */
