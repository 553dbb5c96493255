/* bench_index.c — memory and query latency of a large embedding index
 * (default 1,000,000 entries of dimension 768, the ViT-B embedding width):
 * build time, resident memory, single-query and batched top-10 latency, and
 * .svtpi save/load times. Public API only.
 * Usage: bench_index [N] [DIM] [QUERIES] */
#include <simvtp/simvtp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

static void fill_unit(float *v, int n, int dim, unsigned *seed)
{
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int d = 0; d < dim; d++) {
            v[(size_t)i * dim + d] = (float)rand_r(seed) / RAND_MAX - 0.5f;
            s += v[(size_t)i * dim + d] * v[(size_t)i * dim + d];
        }
        for (int d = 0; d < dim; d++) v[(size_t)i * dim + d] /= (float)sqrt(s);
    }
}

int main(int argc, char **argv)
{
    const int N = argc > 1 ? atoi(argv[1]) : 1000000, DIM = argc > 2 ? atoi(argv[2]) : 768;
    const int Q = argc > 3 ? atoi(argv[3]) : 64, K = 10, CHUNK = 10000;
    simvtp_index *x;
    if (simvtp_index_create(DIM, &x)) { fprintf(stderr, "%s\n", simvtp_last_error()); return 1; }
    long rss0 = rss_kib();
    float *chunk = malloc((size_t)CHUNK * DIM * sizeof(float));
    char (*idbuf)[24] = malloc((size_t)CHUNK * sizeof *idbuf);
    const char **ids = malloc((size_t)CHUNK * sizeof *ids);
    unsigned seed = 1;
    double t0 = now();
    for (int s = 0; s < N; s += CHUNK) {
        int n = N - s < CHUNK ? N - s : CHUNK;
        fill_unit(chunk, n, DIM, &seed);
        for (int i = 0; i < n; i++) {
            snprintf(idbuf[i], sizeof idbuf[i], "video%d", s + i);
            ids[i] = idbuf[i];
        }
        if (simvtp_index_add(x, ids, chunk, n)) { fprintf(stderr, "%s\n", simvtp_last_error()); return 1; }
    }
    double t_build = now() - t0;
    long rss1 = rss_kib();
    float *q = malloc((size_t)Q * DIM * sizeof(float));
    fill_unit(q, Q, DIM, &seed);
    int64_t *idx = malloc((size_t)Q * K * sizeof(int64_t));
    float *sc = malloc((size_t)Q * K * sizeof(float));
    simvtp_index_search(x, q, 1, K, idx, sc); /* warm-up */
    const int R = 5;
    t0 = now();
    for (int r = 0; r < R; r++) simvtp_index_search(x, q + (size_t)(r % Q) * DIM, 1, K, idx, sc);
    double t_one = (now() - t0) / R;
    t0 = now();
    simvtp_index_search(x, q, Q, K, idx, sc);
    double t_batch = now() - t0;
    char path[] = "/tmp/bench-index-XXXXXX";
    close(mkstemp(path));
    t0 = now();
    int rc = simvtp_index_save(x, path);
    double t_save = now() - t0;
    simvtp_index *y = NULL;
    t0 = now();
    if (!rc) rc = simvtp_index_load(path, &y);
    double t_load = now() - t0;
    FILE *f = fopen(path, "rb");
    long fsize = 0;
    if (f) { fseek(f, 0, SEEK_END); fsize = ftell(f); fclose(f); }
    unlink(path);
    printf("RESULT index entries=%d dim=%d build_s=%.2f index_mib=%.0f raw_mib=%.0f "
           "query1_ms=%.1f batch%d_ms_per_query=%.2f save_s=%.2f load_s=%.2f file_mib=%.0f%s\n",
           N, DIM, t_build, (rss1 - rss0) / 1024.0, (double)N * DIM * 4 / (1 << 20), t_one * 1e3, Q,
           t_batch * 1e3 / Q, t_save, t_load, fsize / 1048576.0, rc ? " (save/load failed)" : "");
    simvtp_index_free(y);
    simvtp_index_free(x);
    free(chunk); free(idbuf); free(ids); free(q); free(idx); free(sc);
    return rc ? 1 : 0;
}
