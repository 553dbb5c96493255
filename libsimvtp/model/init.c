/* model/init.c — from-scratch initialization (SPEC.md): xavier-uniform
 * linears and patch embedding, zero biases, LayerNorm 1/0, embeddings and the
 * mask token truncated normal with std 0.02 (cut at 2 std). Tensors are
 * filled in table order from one seeded stream. */
#include <math.h>
#include <string.h>

#include "core/status_internal.h"
#include "model/model.h"

int sv_model_init_weights(simvtp_model *m, uint64_t seed)
{
    sv_rng rng;
    sv_rng_seed(&rng, seed);
    float *host = sv_host_get(m->be, m->params, m->nparams);
    if (!host) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory initializing %zu weights", m->nparams);
    for (int i = 0; i < m->ntensors; i++) {
        const sv_tensor *t = &m->tensors[i];
        float *p = host + t->offset;
        switch (t->init) {
        case SV_INIT_ZERO:
            memset(p, 0, t->numel * sizeof(float));
            break;
        case SV_INIT_ONE:
            for (size_t k = 0; k < t->numel; k++) p[k] = 1.0f;
            break;
        case SV_INIT_XAVIER: {
            double fan_out = (double)t->shape[0], fan_in = (double)t->numel / fan_out;
            double bound = sqrt(6.0 / (fan_in + fan_out));
            for (size_t k = 0; k < t->numel; k++)
                p[k] = (float)((2.0 * (double)sv_rng_uniform(&rng) - 1.0) * bound);
            break;
        }
        case SV_INIT_NORMAL02:
            for (size_t k = 0; k < t->numel; k++) {
                double z;
                do z = sv_rng_normal(&rng); while (fabs(z) > 2.0);
                p[k] = (float)(0.02 * z);
            }
            break;
        }
    }
    /* BERT keeps the [PAD] row of the word table at zero. */
    if (m->w.temb.word) memset(host + (m->w.temb.word - m->params), 0, (size_t)m->cfg.enc_width * sizeof(float));
    sv_host_put(m->be, m->params, host, m->nparams);
    return m->be->finish(m->be);
}
