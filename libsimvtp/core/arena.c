/* core/arena.c — see arena.h. */
#include <stdlib.h>

#include "core/arena.h"

void *sv_arena_alloc(sv_arena *a, size_t bytes)
{
    if (a->failed) return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void **p = realloc(a->ptrs, cap * sizeof *p);
        if (!p) { a->failed = 1; return NULL; }
        a->ptrs = p;
        a->cap = cap;
    }
    void *q = calloc(1, bytes ? bytes : 1);
    if (!q) { a->failed = 1; return NULL; }
    a->ptrs[a->n++] = q;
    a->bytes += bytes;
    return q;
}

void sv_arena_free(sv_arena *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->ptrs[i]);
    free(a->ptrs);
    a->ptrs = NULL;
    a->n = a->cap = 0;
    a->failed = 0;
    a->bytes = 0;
}
