/* core/arena.c — see arena.h. */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/backend.h"

static void *arena_take(sv_arena *a, size_t bytes, int raw)
{
    if (a->failed) return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void **p = realloc(a->ptrs, cap * sizeof *p);
        if (!p) { a->failed = 1; return NULL; }
        a->ptrs = p;
        a->cap = cap;
    }
    const size_t n = bytes ? bytes : 1;
    void *q = !a->be ? calloc(1, n) : raw && a->be->alloc_raw ? a->be->alloc_raw(n) : a->be->alloc(n);
    if (!q) { a->failed = 1; return NULL; }
    a->ptrs[a->n++] = q;
    a->bytes += bytes;
    return q;
}

void *sv_arena_alloc(sv_arena *a, size_t bytes) { return arena_take(a, bytes, 0); }

void *sv_arena_alloc_raw(sv_arena *a, size_t bytes) { return arena_take(a, bytes, 1); }

void *sv_arena_upload(sv_arena *a, const void *src, size_t bytes)
{
    if (!src) return NULL;
    void *q = arena_take(a, bytes, 1); /* every byte is copied in */
    if (!q) return NULL;
    if (a->be) a->be->memcpy_h2d(q, src, bytes);
    else memcpy(q, src, bytes);
    return q;
}

const void *sv_arena_view(sv_arena *a, const void *src, size_t bytes)
{
    if (!src || a->failed) return NULL;
    if (!a->be || a->be->host_memory) return src;
    return sv_arena_upload(a, src, bytes);
}

void sv_arena_free(sv_arena *a)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->be) a->be->free(a->ptrs[i]);
        else free(a->ptrs[i]);
    }
    free(a->ptrs);
    a->ptrs = NULL;
    a->n = a->cap = 0;
    a->failed = 0;
    a->bytes = 0;
}
