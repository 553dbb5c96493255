/* train_dist.c — see train_dist.h. */
#include "train_dist.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train_common.h"

/* Started by an MPI launcher (mpirun/mpiexec of Open MPI or MPICH, srun --mpi=...). */
static int mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") ||
           getenv("MPI_LOCALNRANKS");
}

/* The world size a launcher announces (mpirun, torchrun), 1 if none; *var names it. */
static long launcher_world(const char **var)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "WORLD_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 1) {
            *var = vars[i];
            return n;
        }
    }
    return 1;
}

/* --backend for --dist nccl: cuda, cuda:N[:suffix] or auto (or none given);
 * *suffix is what follows the ordinal (":fp32"). */
static int nccl_suffix(const char *backend, const char **suffix)
{
    *suffix = "";
    if (!backend || !strcmp(backend, "auto") || !strcmp(backend, "cuda")) return 0;
    if (!strncmp(backend, "cuda:", 5) && isdigit((unsigned char)backend[5])) {
        const char *p = backend + 5;
        while (isdigit((unsigned char)*p)) p++;
        *suffix = p;
        return 0;
    }
    return tk_bad_flag("--dist nccl trains every rank on its own GPU: --backend is cuda, cuda:N or "
                       "cuda:N:fp32 (N becomes the rank's GPU) or auto, not '%s'", backend);
}

static int create_comm(tr_dist *d, int global_vtc)
{
    int nccl = !strcmp(d->mode, "nccl");
    int rc = nccl ? simvtp_comm_create_nccl(&d->comm, NULL) : simvtp_comm_create_mpi(&d->comm);
    if (rc) return tk_fail("--dist %s: %s: %s", d->mode, simvtp_strerror(rc), simvtp_last_error());
    d->rank = simvtp_comm_rank(d->comm);
    d->world = simvtp_comm_size(d->comm);
    tk_cli_set_rank(d->rank, d->world);
    d->ending = 1; /* failures from here on are the same on every rank */
    if (global_vtc && (rc = simvtp_comm_set_global_contrastive(d->comm, 1)))
        return tk_fail("--global-vtc: %s: %s", simvtp_strerror(rc), simvtp_last_error());
    d->ending = 0;
    return 0;
}

int tr_dist_start(tr_dist *d, const char *mode, const char *backend, int global_vtc, int zero1)
{
    memset(d, 0, sizeof *d);
    d->mode = "none";
    d->world = 1;
    if (!mode) mode = "none";
    if (strcmp(mode, "none") && strcmp(mode, "mpi") && strcmp(mode, "nccl") && strcmp(mode, "auto"))
        return tk_bad_flag("--dist is none, mpi, nccl or auto, not '%s'", mode);
    if (global_vtc && !strcmp(mode, "none"))
        return tk_bad_flag("--global-vtc needs --dist mpi, nccl or auto (it compares the clips of all ranks)");
    if (zero1 && !strcmp(mode, "none"))
        return tk_bad_flag("--zero1 needs --dist mpi, nccl or auto (it shards the optimizer state over the ranks)");
    const char *suffix = "";
    int rc;
    if (!strcmp(mode, "nccl") && (rc = nccl_suffix(backend, &suffix))) return rc;
    d->mode = !strcmp(mode, "auto") ? (mpi_launched() ? "mpi" : "none") : mode;
    if (!strcmp(d->mode, "none")) {
        const char *var = NULL;
        long n = launcher_world(&var);
        if (n > 1)
            return tk_bad_flag("this process is one of %ld that a launcher started (%s=%ld), but --dist is "
                               "none: each would train alone and write the same --out; give --dist mpi, "
                               "nccl or auto", n, var, n);
        return 0;
    }
    if ((rc = create_comm(d, global_vtc))) return rc;
    d->zero1 = zero1;
    if (!strcmp(d->mode, "nccl") &&
        snprintf(d->backend, sizeof d->backend, "cuda:%d%s", simvtp_comm_device(d->comm), suffix) >=
            (int)sizeof d->backend) {
        d->ending = 1;
        return tk_bad_flag("--backend '%s' is too long", backend);
    }
    return 0;
}

void tr_dist_batch_text(const tr_dist *d, long batch, long accum, char *buf, size_t n)
{
    if (d->world > 1)
        snprintf(buf, n, "batch %ld x accum %ld x %d %s ranks = %ld clips", batch, accum, d->world,
                 d->mode, batch * accum * d->world);
    else
        snprintf(buf, n, "batch %ld x accum %ld", batch, accum);
}

int tr_dist_step_outcome(const tr_dist *d, simvtp_optimizer *o, int lib, const simvtp_step_info *info,
                         long update, long *bad, int *diverged)
{
    int nonfinite = 0;
    if (lib == SIMVTP_ERR_NONFINITE) {
        fprintf(stderr, "%s: warning: update %ld: %s\n", tk_msg_prefix(), update, simvtp_last_error());
        nonfinite = 1;
    } else if (lib) {
        return tk_lib_fail("simvtp_train_step", lib);
    } else if (info->skipped) { /* SIMVTP_NONFINITE_SKIP: skipped and counted */
        if (tr_dist_root(d))
            fprintf(stderr, "%s: warning: update %ld skipped: non-finite loss or gradients (%lld skipped "
                    "so far)\n", tk_msg_prefix(), update, (long long)simvtp_optimizer_nonfinite_count(o));
        nonfinite = 1;
    } else if (info->updated) {
        *bad = 0;
    }
    if (nonfinite && ++*bad == 10 && !*diverged)
        *diverged = tk_fail("10 non-finite updates in a row: the run diverged");
    return 0;
}

const char *tr_dist_backend(const tr_dist *d, const char *backend)
{
    return d->backend[0] ? d->backend : backend;
}

int tr_dist_attach(const tr_dist *d, simvtp_optimizer *o)
{
    int rc = d->comm ? simvtp_optimizer_set_comm(o, d->comm) : SIMVTP_OK;
    if (rc) return tk_lib_fail("attaching the communicator to the optimizer", rc);
    rc = d->zero1 ? simvtp_optimizer_set_sharding(o, 1) : SIMVTP_OK;
    return rc ? tk_lib_fail("--zero1: sharding the optimizer state", rc) : 0;
}

int tr_dist_ckpt_save(const tr_dist *d, const char *dir, const simvtp_model *m, simvtp_optimizer *o,
                      uint64_t position)
{
    if (tr_dist_root(d)) return tr_ckpt_save(dir, m, o, position, d->zero1);
    if (!d->zero1) return 0;
    const int rc = simvtp_optimizer_save(o, NULL); /* this rank's shard of the moments */
    return rc ? tk_lib_fail("saving the training state (this rank's shard)", rc) : 0;
}

int tr_dist_check_world(const tr_dist *d, long stored, int allow, const char *dir)
{
    const long was = stored > 0 ? stored : 1;
    if (was == d->world) return 0;
    if (!allow)
        return tk_bad_flag("the run in %s was trained on %ld rank%s, this job has %d: resume it with the "
                           "same world size, or add --allow-world-change", dir, was, was > 1 ? "s" : "",
                           d->world);
    if (tr_dist_root(d))
        fprintf(stderr, "%s: warning: the run in %s was trained on %ld rank%s, continuing on %d: each update "
                "now takes batch x accum x %d clips and the data order and seeds follow the new world "
                "size (a valid run, not a bit-exact continuation); run.txt records %d\n",
                tk_msg_prefix(), dir, was, was > 1 ? "s" : "", d->world, d->world, d->world);
    return 0;
}

/* A status as three flags (failed, bad input, interrupted), and back. */
static void status_flags(int rc, float *f)
{
    f[0] = rc != 0 && rc != TK_EXIT_USAGE && rc != TK_EXIT_INTERRUPTED;
    f[1] = rc == TK_EXIT_USAGE;
    f[2] = rc == TK_EXIT_INTERRUPTED;
}

static int flags_status(const float *f)
{
    return f[0] > 0 ? TK_EXIT_RUN : f[1] > 0 ? TK_EXIT_USAGE : f[2] > 0 ? TK_EXIT_INTERRUPTED : 0;
}

/* In-place sum over the ranks; 0 or an exit status (the job is then broken). */
static int sum(tr_dist *d, float *v, size_t n)
{
    int rc = simvtp_comm_allreduce_sum(d->comm, v, n);
    return rc ? tk_lib_fail("summing over the ranks", rc) : 0;
}

int tr_dist_agree(tr_dist *d, int rc)
{
    if (!d->comm || d->world == 1) return rc;
    float f[3];
    status_flags(rc, f);
    int lib = sum(d, f, 3);
    if (lib) return lib;
    int job = flags_status(f);
    if (job) d->ending = 1;
    return rc ? rc : job;
}

int tr_dist_update(tr_dist *d, double *v, int n, int rc, int *stop)
{
    *stop = tk_interrupted();
    if (!d->comm || d->world == 1) return rc;
    float f[TR_DIST_MAX_VALUES + 4];
    if (n > TR_DIST_MAX_VALUES) return tk_fail("tr_dist_update: too many values");
    for (int i = 0; i < n; i++) f[i] = (float)v[i];
    status_flags(rc, f + n);
    f[n + 3] = (float)*stop;
    int lib = sum(d, f, (size_t)n + 4);
    if (lib) return lib;
    for (int i = 0; i < n; i++) v[i] = (double)f[i] / d->world;
    *stop = f[n + 3] > 0;
    if (*stop) d->ending = 1; /* every rank stops after this update */
    int job = flags_status(f + n);
    if (job) d->ending = 1;
    return rc ? rc : job;
}

int tr_dist_root_flag(tr_dist *d, int *flag)
{
    if (!d->comm || d->world == 1) return 0;
    float f = tr_dist_root(d) && *flag ? 1.0f : 0.0f;
    int rc = sum(d, &f, 1);
    if (!rc) *flag = f > 0.5f;
    return rc;
}

int tr_dist_recover(tr_dist *d, const char *dir)
{
    return tr_dist_agree(d, tr_dist_root(d) ? tr_ckpt_recover(dir) : 0);
}

int tr_dist_end(tr_dist *d, int rc)
{
    /* see the header; and after Ctrl-C the launcher is ending the job: MPI_Finalize
     * waits for mpirun, which waits for the ranks (until its SIGKILL) */
    if (d->comm && d->world > 1 && ((rc != 0 && !d->ending) || rc == TK_EXIT_INTERRUPTED)) return rc;
    simvtp_comm_free(d->comm);
    d->comm = NULL;
    int lib = simvtp_comm_finalize();
    if (lib && !rc) rc = tk_lib_fail("finalizing MPI", lib);
    return rc;
}
