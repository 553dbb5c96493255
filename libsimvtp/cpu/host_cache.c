/* cpu/host_cache.c — the CPU backend's allocator. A training step allocates
 * and frees the same activation sizes every time; glibc hands large blocks
 * back to the kernel at once, so every step paid again for fresh zero pages
 * (about a quarter of a pretraining step's CPU time). Freed blocks are kept
 * here by exact size and zero-filled when reused (raw blocks are not, or
 * filled with 0xFF bytes: core/backend.h alloc_raw). At most SIMVTP_CPU_CACHE_MB
 * (environment, MiB; default 1024, 0 disables) are kept; a block that would
 * pass the limit is freed at once. Thread-safe. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_ops.h"

#define HDR 64             /* block header: size and free-list link; keeps 64-byte alignment */
#define NBUCKETS 256

typedef struct block {
    size_t size;
    struct block *next;
} block;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block *buckets[NBUCKETS];
static size_t cached, limit = (size_t)-1;

static size_t cache_limit(void)
{
    if (limit == (size_t)-1) {
        const char *e = getenv("SIMVTP_CPU_CACHE_MB");
        char *end;
        unsigned long long mb = e ? strtoull(e, &end, 10) : 1024;
        if (e && (*end || end == e)) mb = 1024;
        limit = mb > (SIZE_MAX >> 21) ? SIZE_MAX : (size_t)mb << 20;
    }
    return limit;
}

static unsigned bucket_of(size_t size) { return (unsigned)((size * 0x9E3779B97F4A7C15ull) >> 56) % NBUCKETS; }

/* A block of `bytes`, reused or new, filled with byte `fill` (-1: a reused
 * block as it is, a new one zero-filled) */
static void *cache_take(size_t bytes, int fill)
{
    if (bytes > SIZE_MAX - HDR) return NULL;
    block *b = NULL;
    pthread_mutex_lock(&lock);
    for (block **pp = &buckets[bucket_of(bytes)]; *pp; pp = &(*pp)->next)
        if ((*pp)->size == bytes) {
            b = *pp;
            *pp = b->next;
            cached -= bytes + HDR;
            break;
        }
    pthread_mutex_unlock(&lock);
    if (b) {
        if (fill >= 0) memset((char *)b + HDR, fill, bytes);
    } else {
        b = calloc(1, bytes + HDR); /* calloc: fresh pages come zeroed for free */
        if (!b) return NULL;
        b->size = bytes;
        if (fill > 0) memset((char *)b + HDR, fill, bytes);
    }
    return (char *)b + HDR;
}

void *cpu_cache_alloc(size_t bytes) { return cache_take(bytes, 0); }

/* The reference backend's alloc_raw (core/backend.h): no fill, or with
 * SIMVTP_CPU_POISON=1 in the environment (read per call; every `meson test`
 * sets it) 0xFF bytes, NaN as floats and bf16, -1 as integers, so that
 * reading a raw buffer before writing it cannot pass for a correct result. */
void *cpu_cache_alloc_raw(size_t bytes)
{
    const char *e = getenv("SIMVTP_CPU_POISON");
    return cache_take(bytes, e && !strcmp(e, "1") ? 0xFF : -1);
}

void cpu_cache_free(void *p)
{
    if (!p) return;
    block *b = (block *)((char *)p - HDR);
    pthread_mutex_lock(&lock);
    if (cached + b->size + HDR <= cache_limit()) {
        unsigned k = bucket_of(b->size);
        b->next = buckets[k];
        buckets[k] = b;
        cached += b->size + HDR;
        b = NULL;
    }
    pthread_mutex_unlock(&lock);
    free(b);
}
