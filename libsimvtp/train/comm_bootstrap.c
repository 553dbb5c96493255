/* train/comm_bootstrap.c — the launcher-agnostic side of the NCCL
 * communicator's start, free of CUDA and NCCL so that it builds (and is
 * tested) everywhere: the world from the environment (RANK / WORLD_SIZE /
 * LOCAL_RANK as torchrun sets them, or Slurm's, Open MPI's or PMI's own
 * variables), the device string, and the hand-over of an opaque id from
 * rank 0 to the other ranks through a file on a shared file system.
 *
 * The id file (text, written by rank 0 to a temporary name in the same
 * directory and renamed into place, so that readers see all of it or
 * nothing):
 *     simvtp-nccl-id 1
 *     world <W>
 *     id <hex bytes>            or      error <rank 0's message>
 * Readers poll for it, check the world size, and fail at once on an
 * `error` record. Rank 0 removes the file once every rank has joined
 * (sv_id_file_remove). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/status_internal.h"
#include "train/comm_internal.h"

#define ID_MAGIC "simvtp-nccl-id 1"

/* Strict decimal int in [lo, hi] from variable `name`; 0 when unset,
 * 1 when parsed, SIMVTP_ERR_INVALID_ARG otherwise. */
static int env_int(const char *name, int lo, int hi, int *out)
{
    const char *s = getenv(name);
    if (!s) return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (end && isspace((unsigned char)*end)) end++;
    if (!*s || errno || !end || *end || v < lo || v > hi)
        return sv_fail(SIMVTP_ERR_INVALID_ARG, "environment variable %s=\"%s\" is not an integer in [%d, %d]",
                       name, s, lo, hi);
    *out = (int)v;
    return 1;
}

int sv_env_world_get(sv_env_world *w)
{
    /* Rank, size and local-rank variables of the launchers, first match wins:
     * torchrun (and anything that mimics it), Slurm's srun, Open MPI's mpirun,
     * MPICH/Hydra's mpiexec. */
    static const struct { const char *rank, *size, *local, *source; } kinds[] = {
        {"RANK", "WORLD_SIZE", "LOCAL_RANK", "RANK/WORLD_SIZE"},
        {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_PROCID/SLURM_NTASKS"},
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
         "OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE"},
        {"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "PMI_RANK/PMI_SIZE"},
    };
    w->rank = 0;
    w->size = 1;
    w->local_rank = 0;
    w->source = "none (a world of one rank)";
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (!getenv(kinds[k].rank) && !getenv(kinds[k].size)) continue;
        int rank = -1, size = -1, local = -1, rc;
        if ((rc = env_int(kinds[k].size, 1, INT_MAX, &size)) < 0) return rc;
        if ((rc = env_int(kinds[k].rank, 0, INT_MAX, &rank)) < 0) return rc;
        if (rank < 0 || size < 0)
            return sv_fail(SIMVTP_ERR_INVALID_ARG, "%s is set but %s is not: set both (and %s)",
                           getenv(kinds[k].rank) ? kinds[k].rank : kinds[k].size,
                           getenv(kinds[k].rank) ? kinds[k].size : kinds[k].rank, kinds[k].local);
        if (rank >= size)
            return sv_fail(SIMVTP_ERR_INVALID_ARG, "%s=%d is not below %s=%d", kinds[k].rank, rank,
                           kinds[k].size, size);
        if ((rc = env_int(kinds[k].local, 0, INT_MAX, &local)) < 0) return rc;
        if (rc == 0) local = size == 1 ? 0 : -1;
        w->rank = rank;
        w->size = size;
        w->local_rank = local;
        w->source = kinds[k].source;
        return SIMVTP_OK;
    }
    return SIMVTP_OK;
}

int sv_parse_cuda_device(const char *s, int *device)
{
    *device = -1;
    if (!s || !*s || !strcmp(s, "auto") || !strcmp(s, "cuda")) return SIMVTP_OK;
    if (!strncmp(s, "cuda:", 5) && isdigit((unsigned char)s[5])) {
        char *end = NULL;
        errno = 0;
        long v = strtol(s + 5, &end, 10);
        if (!errno && v <= INT_MAX && (*end == '\0' || *end == ':')) {
            *device = (int)v;
            return SIMVTP_OK;
        }
    }
    return sv_fail(SIMVTP_ERR_INVALID_ARG,
                   "device \"%s\": use NULL, \"auto\" or \"cuda\" (the local rank's GPU) or \"cuda:N\"", s);
}

int sv_pick_cuda_device(int want, int local_rank, int ndev, int *device)
{
    if (want >= 0) {
        if (want >= ndev)
            return sv_fail(SIMVTP_ERR_INVALID_ARG, "cuda:%d does not exist: this process sees %d CUDA device(s)",
                           want, ndev);
        *device = want;
        return SIMVTP_OK;
    }
    if (local_rank >= 0 && local_rank < ndev) {
        *device = local_rank;
        return SIMVTP_OK;
    }
    if (ndev == 1) { /* one GPU per process (CUDA_VISIBLE_DEVICES, srun --gpus-per-task=1) */
        *device = 0;
        return SIMVTP_OK;
    }
    if (local_rank < 0)
        return sv_fail(SIMVTP_ERR_INVALID_ARG,
                       "no local rank is known (set LOCAL_RANK) and this process sees %d CUDA devices: pass "
                       "\"cuda:N\" to pick one", ndev);
    return sv_fail(SIMVTP_ERR_INVALID_ARG,
                   "local rank %d has no GPU: this process sees %d CUDA device(s) (more ranks per node than "
                   "GPUs?)", local_rank, ndev);
}

double sv_nccl_timeout(void)
{
    const char *s = getenv("SIMVTP_NCCL_TIMEOUT");
    if (s && *s) {
        char *end = NULL;
        double t = strtod(s, &end);
        if (end && *end == '\0' && t > 0 && t < 1e9) return t;
        sv_log(SIMVTP_LOG_WARN, "SIMVTP_NCCL_TIMEOUT=\"%s\" is not a positive number of seconds; using 600", s);
    }
    return 600.0;
}

int sv_id_file_publish(const char *path, int world, const void *id, size_t bytes, const char *error)
{
    SV_CHECK_ARG(path && *path, "the NCCL id file path is empty");
    if (access(path, F_OK) == 0)
        sv_log(SIMVTP_LOG_WARN, "replacing the existing NCCL id file %s (left over from an earlier job? ranks "
               "that read it before it was replaced fail to connect: use a fresh SIMVTP_NCCL_ID_FILE per job)",
               path);
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') *p = '_';
    const size_t tlen = strlen(path) + sizeof host + 48;
    char *tmp = malloc(tlen);
    if (!tmp) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for the NCCL id file name");
    snprintf(tmp, tlen, "%s.tmp.%s.%ld", path, host, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        const int err = errno;
        free(tmp);
        return sv_fail(SIMVTP_ERR_IO, "cannot write the NCCL id file next to %s: %s (SIMVTP_NCCL_ID_FILE must "
                       "name a file in an existing directory that every rank can read)", path, strerror(err));
    }
    fprintf(f, "%s\nworld %d\n", ID_MAGIC, world);
    if (error) {
        fputs("error ", f);
        for (const char *p = error; *p; p++) fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
        fputc('\n', f);
    } else {
        fputs("id ", f);
        for (size_t i = 0; i < bytes; i++) fprintf(f, "%02x", ((const unsigned char *)id)[i]);
        fputc('\n', f);
    }
    int ok = fflush(f) == 0 && !ferror(f);
    ok = ok && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    int err = errno;
    if (ok && rename(tmp, path) != 0) {
        err = errno;
        ok = 0;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return sv_fail(SIMVTP_ERR_IO, "cannot write the NCCL id file %s: %s", path, strerror(err));
    }
    free(tmp);
    return SIMVTP_OK;
}

void sv_id_file_remove(const char *path)
{
    if (path && *path && unlink(path) != 0 && errno != ENOENT)
        sv_log(SIMVTP_LOG_WARN, "could not remove the NCCL id file %s: %s", path, strerror(errno));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 1: parsed into id; 0: not (yet) a complete record; < 0: a definitive error. */
static int id_file_read(const char *path, int world, void *id, size_t bytes)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int rc = 0, wfile = -1;
    if (!fgets(line, sizeof line, f) || strncmp(line, ID_MAGIC, strlen(ID_MAGIC)) != 0) goto out;
    if (!fgets(line, sizeof line, f) || sscanf(line, "world %d", &wfile) != 1) goto out;
    if (wfile != world) {
        rc = sv_fail(SIMVTP_ERR_INVALID_ARG,
                     "the NCCL id file %s was written for a world of %d ranks, this rank's world has %d "
                     "(WORLD_SIZE differs between ranks, or the file is left over from another job: use a "
                     "fresh SIMVTP_NCCL_ID_FILE per job)", path, wfile, world);
        goto out;
    }
    if (!fgets(line, sizeof line, f)) goto out;
    line[strcspn(line, "\r\n")] = '\0';
    if (!strncmp(line, "error ", 6)) {
        rc = sv_fail(SIMVTP_ERR_IO, "rank 0 failed to create the NCCL communicator: %s", line + 6);
        goto out;
    }
    if (strncmp(line, "id ", 3) != 0 || strlen(line + 3) != 2 * bytes) goto out;
    unsigned char *b = id;
    for (size_t i = 0; i < bytes; i++) {
        const int hi = hexval(line[3 + 2 * i]), lo = hexval(line[4 + 2 * i]);
        if (hi < 0 || lo < 0) goto out;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    rc = 1;
out:
    fclose(f);
    return rc;
}

int sv_id_file_wait(const char *path, int world, void *id, size_t bytes, double timeout_s)
{
    SV_CHECK_ARG(path && *path, "the NCCL id file path is empty");
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long sleep_ns = 1000000; /* 1 ms, doubling to 100 ms */
    for (;;) {
        const int rc = id_file_read(path, world, id, bytes);
        if (rc == 1) return SIMVTP_OK;
        if (rc < 0) return rc;
        clock_gettime(CLOCK_MONOTONIC, &now);
        const double waited = (double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec);
        if (waited >= timeout_s)
            return sv_fail(SIMVTP_ERR_IO,
                           "timed out after %.0f s waiting for rank 0 to write the NCCL id file %s (is rank 0 "
                           "running, and is SIMVTP_NCCL_ID_FILE the same path on a file system that every rank "
                           "shares? SIMVTP_NCCL_TIMEOUT sets the wait in seconds)",
                           waited, path);
        struct timespec d = {0, sleep_ns};
        nanosleep(&d, NULL);
        if (sleep_ns < 100000000L) sleep_ns *= 2;
        if (sleep_ns > 100000000L) sleep_ns = 100000000L;
    }
}
