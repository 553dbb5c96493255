/* eval.h — retrieval evaluation shared by simvtp-finetune (every epoch) and
 * simvtp-retrieve (evaluate): encode every test video as the mean of
 * num_clips x num_crops clip embeddings (renormalized) and every caption,
 * then text->video and video->text R@1/5/10, MdR, MnR.
 * Public API only (simvtp/simvtp.h). */
#ifndef TK_EVAL_H
#define TK_EVAL_H

#include <stddef.h>
#include <stdio.h>
#include <simvtp/simvtp.h>

typedef struct tk_eval_params {
    const char *const *shards;     /* TEST split shards (one caption per video is the MSRVTT 1k-A case) */
    int num_shards;
    const simvtp_tokenizer *tokenizer;
    int num_clips;                 /* temporal clips per video (3)               */
    int num_crops;                 /* spatial crops per clip (3: SIMVTP_CROP_THREE; 1: centre) */
    int batch;                     /* clips encoded per call (8)                 */
    int threads;                   /* loader worker threads (2)                  */
    int max_text_len;              /* caption token cap (the model's max_text_len or less) */
    simvtp_progress_fn progress;   /* optional: done/total clips                 */
    void *progress_user;
    /* optional: the ranks share the work (every rank calls tk_evaluate, a
     * collective): rank r encodes every W-th batch of clips and of captions,
     * the embeddings are summed over the ranks, and every rank gets the
     * whole result. NULL or one rank: alone. */
    simvtp_comm *comm;
} tk_eval_params;

typedef struct tk_eval_result {
    simvtp_retrieval_metrics t2v;  /* queries = captions, candidates = videos          */
    simvtp_retrieval_metrics v2t;  /* queries = videos, truth = the video's first caption */
    int videos, captions;
    double chance_r1;              /* 100 / videos: R@1 of a random ranking           */
    double seconds;
} tk_eval_result;

void tk_eval_default_params(tk_eval_params *p);

/* Returns SIMVTP_OK or a status; on failure a one-line reason goes to err. */
int tk_evaluate(simvtp_model *m, const tk_eval_params *p, tk_eval_result *out, char *err,
                size_t errlen);

/* Writes the result as a table (stdout style) and as JSON. */
void tk_eval_print_table(const tk_eval_result *r, FILE *f);
int tk_eval_write_json(const tk_eval_result *r, const char *path, char *err, size_t errlen);

#endif /* TK_EVAL_H */
