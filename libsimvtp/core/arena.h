/* core/arena.h — a scope of allocations freed together (zero-filled, or
 * raw where the graph writes every byte before reading it): the
 * activations of one forward/backward live in one arena. An arena with a
 * backend (be != NULL) allocates backend memory (device memory for CUDA);
 * without one, host memory. */
#ifndef SV_ARENA_H
#define SV_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct sv_backend;

typedef struct sv_arena {
    void **ptrs;
    size_t n, cap;
    int failed;       /* set once an allocation failed; later ones return NULL */
    size_t bytes;     /* total allocated */
    const struct sv_backend *be; /* NULL: host memory */
} sv_arena;

void *sv_arena_alloc(sv_arena *a, size_t bytes);
/* Not zero-filled (backend alloc_raw): only for a buffer whose every byte
 * is written before it is read; host arenas stay zero-filled. */
void *sv_arena_alloc_raw(sv_arena *a, size_t bytes);
#define SV_AF(a, n) ((float *)sv_arena_alloc((a), (size_t)(n) * sizeof(float)))
#define SV_AI(a, n) ((int32_t *)sv_arena_alloc((a), (size_t)(n) * sizeof(int32_t)))
#define SV_AU8(a, n) ((uint8_t *)sv_arena_alloc((a), (size_t)(n)))
#define SV_AFR(a, n) ((float *)sv_arena_alloc_raw((a), (size_t)(n) * sizeof(float)))
/* A copy of `bytes` of host data in the arena's memory (NULL and failed on
 * allocation failure; NULL src gives NULL without failing). */
void *sv_arena_upload(sv_arena *a, const void *src, size_t bytes);
#define SV_UPI(a, src, n) ((int32_t *)sv_arena_upload((a), (src), (size_t)(n) * sizeof(int32_t)))
#define SV_UPF(a, src, n) ((float *)sv_arena_upload((a), (src), (size_t)(n) * sizeof(float)))
#define SV_UPU8(a, src, n) ((uint8_t *)sv_arena_upload((a), (src), (size_t)(n)))
/* Read-only view of host data in the arena's memory: the host pointer
 * itself when the arena is host memory (no copy), else an uploaded copy. */
const void *sv_arena_view(sv_arena *a, const void *src, size_t bytes);
#define SV_VIEWI(a, src, n) ((const int32_t *)sv_arena_view((a), (src), (size_t)(n) * sizeof(int32_t)))
#define SV_VIEWF(a, src, n) ((const float *)sv_arena_view((a), (src), (size_t)(n) * sizeof(float)))
#define SV_VIEWU8(a, src, n) ((const uint8_t *)sv_arena_view((a), (src), (size_t)(n)))
void sv_arena_free(sv_arena *a);

#endif /* SV_ARENA_H */
