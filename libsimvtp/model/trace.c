/* model/trace.c — see trace.h. */
#include <stdlib.h>
#include <string.h>

#include "model/trace.h"

static void *dup(const void *src, size_t bytes, int *failed)
{
    if (!src) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (!p) { *failed = 1; return NULL; }
    memcpy(p, src, bytes);
    return p;
}

void sv_trace_free(sv_pt_trace *t)
{
    if (!t) return;
    free(t->vis_idx); free(t->mask_idx); free(t->text_in); free(t->labels);
    free(t->dropmask); free(t->neg); free(t->droppath_video); free(t->droppath_text);
    free(t->pred); free(t->mlm_argmax);
    memset(t, 0, sizeof *t);
}

void sv_trace_fill_pretrain(sv_pt_trace *t, int B, int L, int N, int Nv, const int32_t *vis_idx,
                            const int32_t *mask_idx, const int32_t *text_in,
                            const int32_t *labels, const float *dropmask, int D,
                            const int32_t *neg)
{
    int failed = 0;
    memset(t, 0, sizeof *t);
    const int Nm = N - Nv;
    t->vis_idx = dup(vis_idx, (size_t)B * Nv * 4, &failed);
    t->mask_idx = dup(mask_idx, (size_t)B * Nm * 4, &failed);
    t->text_in = dup(text_in, (size_t)B * L * 4, &failed);
    t->labels = dup(labels, (size_t)B * L * 4, &failed);
    t->dropmask = dup(dropmask, (size_t)B * L * D * 4, &failed);
    t->neg = dup(neg, (size_t)B * 4, &failed);
    if (failed) { sv_trace_free(t); return; }
    t->B = B; t->L = L; t->N = N; t->Nv = Nv; t->Nm = Nm;
}

void sv_trace_fill_droppath(sv_pt_trace *t, const float *video, const float *text, size_t n)
{
    int failed = 0;
    t->droppath_video = dup(video, n * 4, &failed);
    t->droppath_text = dup(text, n * 4, &failed);
    if (failed) sv_trace_free(t);
}

void sv_trace_fill_outputs(sv_pt_trace *t, const float *pred, size_t npred, const int32_t *argmax)
{
    int failed = 0;
    t->pred = dup(pred, npred * 4, &failed);
    t->mlm_argmax = dup(argmax, (size_t)t->B * t->L * 4, &failed);
    if (failed) sv_trace_free(t);
}
