/* core/arena.h — a scope of zero-filled allocations freed together: the
 * activations of one forward/backward live in one arena. */
#ifndef SV_ARENA_H
#define SV_ARENA_H

#include <stddef.h>

typedef struct sv_arena {
    void **ptrs;
    size_t n, cap;
    int failed;       /* set once an allocation failed; later ones return NULL */
    size_t bytes;     /* total allocated */
} sv_arena;

void *sv_arena_alloc(sv_arena *a, size_t bytes);
#define SV_AF(a, n) ((float *)sv_arena_alloc((a), (size_t)(n) * sizeof(float)))
#define SV_AI(a, n) ((int32_t *)sv_arena_alloc((a), (size_t)(n) * sizeof(int32_t)))
#define SV_AU8(a, n) ((uint8_t *)sv_arena_alloc((a), (size_t)(n)))
void sv_arena_free(sv_arena *a);

#endif /* SV_ARENA_H */
