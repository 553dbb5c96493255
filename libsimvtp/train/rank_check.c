/* train/rank_check.c — the ranks agree before they train together: at the
 * first train step after a communicator is set or a state is loaded, every
 * rank all-gathers four 32-bit fingerprints (model kind and config, optimizer
 * settings, training counters and RNG stream, a sample of the weights) and
 * all ranks fail alike, naming the first rank and part that differ from rank
 * 0's. Without it, ranks started with another seed, learning rate or
 * checkpoint would average gradients of different models silently. */
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/config_internal.h"
#include "core/status_internal.h"
#include "train/comm_internal.h"
#include "train/optim_internal.h"

enum { PART_CONFIG, PART_OPTIM, PART_COUNTERS, PART_WEIGHTS, NPARTS };
static const char *const part_names[NPARTS] = {
    "model kind or config", "optimizer settings", "training counters or RNG stream", "weights"};

static uint32_t fnv32(uint32_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

/* Up to SAMPLE weights from the start, the middle and the end of the
 * parameter vector: enough to tell another seed or checkpoint, and the
 * same bits on ranks that agree (whatever their thread counts). */
#define SAMPLE 1024
static int weights_print(const simvtp_model *m, uint32_t *h)
{
    const size_t n = m->nparams, k = n < SAMPLE ? n : SAMPLE;
    float *buf = malloc(3 * k * sizeof(float) + 1);
    if (!buf) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory comparing the ranks' weights");
    const size_t at[3] = {0, (n - k) / 2, n - k};
    for (int i = 0; i < 3; i++) m->be->memcpy_d2h(buf + i * k, m->params + at[i], k * sizeof(float));
    int rc = m->be->finish ? m->be->finish(m->be) : SIMVTP_OK;
    *h = fnv32(2166136261u, buf, 3 * k * sizeof(float));
    free(buf);
    return rc;
}

static int fingerprints(const simvtp_optimizer *o, uint32_t f[NPARTS])
{
    const simvtp_model *m = o->model;
    const simvtp_optimizer_params *p = &o->p;
    uint32_t words[SV_CONFIG_WORDS];
    sv_config_to_words(&m->cfg, words);
    const uint64_t np = m->nparams;
    f[PART_CONFIG] = fnv32(fnv32(fnv32(2166136261u, &m->kind, sizeof m->kind), words, sizeof words), &np, sizeof np);
    /* field by field: no padding bytes in the hash */
    uint32_t h = 2166136261u;
    const float fl[7] = {p->lr, p->min_lr, p->beta1, p->beta2, p->eps, p->weight_decay, p->clip_norm};
    const int64_t in[3] = {p->warmup_steps, p->total_steps, (int64_t)p->accum_steps};
    h = fnv32(h, fl, sizeof fl);
    h = fnv32(h, in, sizeof in);
    h = fnv32(h, &p->seed, sizeof p->seed);
    h = fnv32(h, &p->nonfinite_policy, sizeof p->nonfinite_policy);
    f[PART_OPTIM] = h;
    h = fnv32(2166136261u, &o->step, sizeof o->step);
    h = fnv32(h, &o->micro_step, sizeof o->micro_step);
    f[PART_COUNTERS] = fnv32(h, o->rng.s, sizeof o->rng.s);
    return weights_print(m, &f[PART_WEIGHTS]);
}

int sv_optimizer_check_ranks(simvtp_optimizer *o)
{
    simvtp_comm *c = o->comm;
    if (!c || c->size <= 1 || !c->ops->allgather) return SIMVTP_OK;
    uint32_t f[NPARTS];
    SV_TRY(fingerprints(o, f));
    /* 16-bit halves travel exactly as floats */
    float mine[2 * NPARTS];
    for (int i = 0; i < NPARTS; i++) {
        mine[2 * i] = (float)(f[i] & 0xffffu);
        mine[2 * i + 1] = (float)(f[i] >> 16);
    }
    float *all = malloc((size_t)c->size * sizeof mine);
    if (!all) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory comparing the ranks");
    int rc = c->ops->allgather(c, mine, all, 2 * NPARTS);
    for (int r = 1; r < c->size && rc == SIMVTP_OK; r++)
        for (int i = 0; i < NPARTS; i++)
            if (memcmp(all + (size_t)r * 2 * NPARTS + 2 * i, all + 2 * i, 2 * sizeof(float)) != 0) {
                rc = sv_fail(SIMVTP_ERR_MISMATCH,
                             "simvtp_train_step: rank %d of %d has other %s than rank 0: every rank must "
                             "create its model and optimizer with the same config, parameters and seeds "
                             "(or load the same files) before training together; nothing was trained",
                             r, c->size, part_names[i]);
                break;
            }
    free(all);
    return rc;
}
