/* train/optim_state_io.c — the training-state file (docs/FORMATS.md):
 * counters, RNG stream, data position, optimizer settings, AdamW moments and
 * (mid-accumulation) the pending gradients, each array with a CRC-32.
 * Written atomically; read only into an optimizer for the same model config. */
#include <stdlib.h>
#include <string.h>

#include "core/config_internal.h"
#include "core/fileio.h"
#include "core/status_internal.h"
#include "train/optim_internal.h"

#define STATE_MAGIC "SVTPOPT1"
#define STATE_VERSION 2u     /* written; version 1 (no nonfinite count) is read too */

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void write_array(sv_writer *w, const float *a, size_t n)
{
    sv_write_u32(w, sv_crc32(0, a, n * 4));
    sv_write(w, a, n * 4);
}

int simvtp_optimizer_save(const simvtp_optimizer *o, const char *path)
{
    sv_clear_error();
    SV_CHECK_ARG(o && (path || o->sharded), "simvtp_optimizer_save: optimizer and path must not be NULL "
                 "(path may be NULL only for a sharded optimizer, on a rank that writes nothing)");
    const simvtp_model *m = o->model;
    const simvtp_optimizer_params *p = &o->p;
    uint32_t words[SV_CONFIG_WORDS];
    sv_config_to_words(&m->cfg, words);
    const int pending = (o->micro_step % p->accum_steps) != 0;
    const sv_backend *be = m->be;
    SV_TRY(be->activate(be));
    float *hm, *hv;
    SV_TRY(sv_optimizer_moments_get(o, &hm, &hv)); /* a collective when sharded */
    if (!path) {
        sv_optimizer_moments_drop(o, hm, hv);
        return SIMVTP_OK;
    }
    float *hg = pending ? sv_host_get(be, m->grads, m->nparams) : NULL;
    if (pending && !hg) {
        sv_optimizer_moments_drop(o, hm, hv);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory writing %s", path);
    }
    sv_writer w;
    int rc = sv_writer_open(&w, path);
    if (rc) {
        sv_optimizer_moments_drop(o, hm, hv);
        if (hg) sv_host_drop(be, m->grads, hg);
        return rc;
    }
    sv_write(&w, STATE_MAGIC, 8);
    sv_write_u32(&w, STATE_VERSION);
    sv_write_u32(&w, (uint32_t)m->kind);
    sv_write_u32(&w, SV_CONFIG_WORDS);
    for (int i = 0; i < SV_CONFIG_WORDS; i++) sv_write_u32(&w, words[i]);
    sv_write_u64(&w, m->nparams);
    sv_write_u64(&w, (uint64_t)o->step);
    sv_write_u64(&w, (uint64_t)o->micro_step);
    for (int i = 0; i < 4; i++) sv_write_u64(&w, o->rng.s[i]);
    sv_write_u64(&w, o->data_position);
    sv_write_u64(&w, (uint64_t)o->nonfinite_count);   /* since version 2 */
    sv_write_u32(&w, f2u(p->lr));
    sv_write_u32(&w, f2u(p->min_lr));
    sv_write_u32(&w, f2u(p->beta1));
    sv_write_u32(&w, f2u(p->beta2));
    sv_write_u32(&w, f2u(p->eps));
    sv_write_u32(&w, f2u(p->weight_decay));
    sv_write_u64(&w, (uint64_t)p->warmup_steps);
    sv_write_u64(&w, (uint64_t)p->total_steps);
    sv_write_u32(&w, f2u(p->clip_norm));
    sv_write_u32(&w, (uint32_t)p->accum_steps);
    sv_write_u64(&w, p->seed);
    sv_write_u32(&w, (uint32_t)pending);
    write_array(&w, hm, m->nparams);
    write_array(&w, hv, m->nparams);
    if (pending) write_array(&w, hg, m->nparams);
    sv_optimizer_moments_drop(o, hm, hv);
    if (hg) sv_host_drop(be, m->grads, hg);
    return sv_writer_commit(&w);
}

static int read_array(sv_reader *r, float *dst, size_t n, const char *what)
{
    uint32_t crc;
    SV_TRY(sv_read_u32(r, &crc, what));
    if (n > (r->size - r->pos) / 4)
        return sv_fail(SIMVTP_ERR_TRUNCATED, "%s: file ends inside %s (%zu values expected)", r->path, what, n);
    if (sv_crc32(0, r->p + r->pos, n * 4) != crc)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: %s fails its checksum (file damaged)", r->path, what);
    return sv_read_bytes(r, dst, n * 4, what);
}

static int parse_state(sv_reader *r, simvtp_optimizer *o, float *m_out, float *v_out, float *g_out)
{
    const simvtp_model *m = o->model;
    char magic[8];
    uint32_t version, kind, nwords, words[SV_CONFIG_WORDS], u;
    uint64_t nparams, x;
    if (r->size < 8 || memcmp(r->p, STATE_MAGIC, 8) != 0)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s is not a libsimvtp training-state file (magic is not \"" STATE_MAGIC "\")",
                       r->path);
    SV_TRY(sv_read_bytes(r, magic, 8, "magic"));
    SV_TRY(sv_read_u32(r, &version, "format version"));
    if (version < 1 || version > STATE_VERSION)
        return sv_fail(SIMVTP_ERR_VERSION,
                       "%s has training-state format version %u; this libsimvtp reads versions 1 to %u",
                       r->path, version, STATE_VERSION);
    SV_TRY(sv_read_u32(r, &kind, "model kind"));
    SV_TRY(sv_read_u32(r, &nwords, "config size"));
    if (nwords != SV_CONFIG_WORDS)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: config block has %u words, expected %d", r->path, nwords, SV_CONFIG_WORDS);
    for (int i = 0; i < SV_CONFIG_WORDS; i++) SV_TRY(sv_read_u32(r, &words[i], "config"));
    simvtp_config cfg;
    sv_config_from_words(&cfg, words);
    if (kind != (uint32_t)m->kind)
        return sv_fail(SIMVTP_ERR_MISMATCH, "%s is the training state of another model kind", r->path);
    const char *diff = sv_config_first_difference(&cfg, &m->cfg);
    if (diff)
        return sv_fail(SIMVTP_ERR_MISMATCH, "%s was saved for another model config (field %s differs)", r->path, diff);
    SV_TRY(sv_read_u64(r, &nparams, "parameter count"));
    if (nparams != m->nparams)
        return sv_fail(SIMVTP_ERR_MISMATCH, "%s holds %llu parameters; the model has %zu", r->path,
                       (unsigned long long)nparams, m->nparams);
    SV_TRY(sv_read_u64(r, &x, "step")); o->step = (int64_t)x;
    SV_TRY(sv_read_u64(r, &x, "micro step")); o->micro_step = (int64_t)x;
    for (int i = 0; i < 4; i++) SV_TRY(sv_read_u64(r, &o->rng.s[i], "rng state"));
    SV_TRY(sv_read_u64(r, &o->data_position, "data position"));
    o->nonfinite_count = 0;
    o->nonfinite_micro = 0;
    if (version >= 2) {
        SV_TRY(sv_read_u64(r, &x, "non-finite count"));
        o->nonfinite_count = (int64_t)x;
    }
    simvtp_optimizer_params *p = &o->p;
    SV_TRY(sv_read_u32(r, &u, "lr")); p->lr = u2f(u);
    SV_TRY(sv_read_u32(r, &u, "min_lr")); p->min_lr = u2f(u);
    SV_TRY(sv_read_u32(r, &u, "beta1")); p->beta1 = u2f(u);
    SV_TRY(sv_read_u32(r, &u, "beta2")); p->beta2 = u2f(u);
    SV_TRY(sv_read_u32(r, &u, "eps")); p->eps = u2f(u);
    SV_TRY(sv_read_u32(r, &u, "weight_decay")); p->weight_decay = u2f(u);
    SV_TRY(sv_read_u64(r, &x, "warmup_steps")); p->warmup_steps = (int64_t)x;
    SV_TRY(sv_read_u64(r, &x, "total_steps")); p->total_steps = (int64_t)x;
    SV_TRY(sv_read_u32(r, &u, "clip_norm")); p->clip_norm = u2f(u);
    SV_TRY(sv_read_u32(r, &u, "accum_steps")); p->accum_steps = (int)u;
    SV_TRY(sv_read_u64(r, &p->seed, "seed"));
    uint32_t pending;
    SV_TRY(sv_read_u32(r, &pending, "pending-gradient flag"));
    if (pending > 1 || p->accum_steps < 1 || o->step < 0 || o->micro_step < 0 || o->nonfinite_count < 0 ||
        sv_optimizer_check_params(p) != SIMVTP_OK)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: inconsistent training-state fields", r->path);
    SV_TRY(read_array(r, m_out, m->nparams, "first moments"));
    SV_TRY(read_array(r, v_out, m->nparams, "second moments"));
    if (pending) SV_TRY(read_array(r, g_out, m->nparams, "pending gradients"));
    else memset(g_out, 0, m->nparams * sizeof(float));
    if (r->pos != r->size)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: %zu unexpected bytes after the training state", r->path, r->size - r->pos);
    return SIMVTP_OK;
}

int simvtp_optimizer_load(simvtp_optimizer *o, const char *path)
{
    sv_clear_error();
    SV_CHECK_ARG(o && path, "simvtp_optimizer_load: optimizer and path must not be NULL");
    uint8_t *buf;
    size_t size;
    SV_TRY(sv_read_file(path, &buf, &size));
    const size_t n = o->model->nparams;
    /* Parse into a scratch optimizer so that a bad file changes nothing. */
    simvtp_optimizer tmp = *o;
    float *mm = malloc(n * sizeof(float)), *vv = malloc(n * sizeof(float)), *gg = malloc(n * sizeof(float));
    int rc;
    if (!mm || !vv || !gg) {
        rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory loading %s", path);
    } else {
        sv_reader r = {buf, size, 0, path};
        rc = parse_state(&r, &tmp, mm, vv, gg);
    }
    const sv_backend *be = o->model->be;
    if (rc == SIMVTP_OK) rc = be->activate(be);
    if (rc == SIMVTP_OK) {
        /* This rank's shard of the moments (all of them unless sharded). */
        be->memcpy_h2d(o->m, mm + o->shard_lo, o->shard_n * sizeof(float));
        be->memcpy_h2d(o->v, vv + o->shard_lo, o->shard_n * sizeof(float));
        be->memcpy_h2d(o->model->grads, gg, n * sizeof(float));
        rc = be->finish(be);
    }
    if (rc == SIMVTP_OK) {
        tmp.m = o->m;
        tmp.v = o->v;
        tmp.ranks_checked = 0; /* compared again at the next train step */
        *o = tmp;
    }
    free(mm);
    free(vv);
    free(gg);
    free(buf);
    return rc;
}
