/* model/trace.h — copying a step's random decisions into an sv_pt_trace
 * (declared in model.h) for white-box tests such as the PyTorch parity dump. */
#ifndef SV_TRACE_H
#define SV_TRACE_H

#include "model/model.h"

/* On allocation failure the trace is left zeroed (trace->B == 0). */
void sv_trace_fill_pretrain(sv_pt_trace *t, int B, int L, int N, int Nv, const int32_t *vis_idx,
                            const int32_t *mask_idx, const int32_t *text_in,
                            const int32_t *labels, const float *dropmask, int D,
                            const int32_t *neg);
/* Adds drop-path tables [depth,2,B] of both towers (retrieval). */
void sv_trace_fill_droppath(sv_pt_trace *t, const float *video, const float *text, size_t n);

/* Adds the decoder prediction and the MLM arg-max (pretrain). */
void sv_trace_fill_outputs(sv_pt_trace *t, const float *pred, size_t npred, const int32_t *argmax);

#endif /* SV_TRACE_H */
