/* simvtp/config.h — the model configuration: presets ("vit-b", "small",
 * "tiny") and validation of custom configurations. */
#ifndef SIMVTP_CONFIG_H
#define SIMVTP_CONFIG_H

#include <stddef.h>
#include "simvtp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Model shape and fixed hyper-parameters. Fill with simvtp_config_preset(),
 * then change fields if needed; `size` must stay sizeof(simvtp_config) of the
 * header you compiled against (fields are only ever appended). */
typedef struct simvtp_config {
    size_t size;
    /* video input */
    int frames;            /* T: frames per clip (vit-b 16)                     */
    int height, width;     /* frame size in pixels (vit-b 224x224)              */
    int tubelet;           /* frames per tubelet (2)                            */
    int patch;             /* tubelet side in pixels (16)                       */
    /* unified encoder */
    int enc_width;         /* 768 */
    int enc_depth;         /* 12 */
    int enc_heads;         /* 12 */
    int enc_mlp;           /* 3072 */
    /* video decoder */
    int dec_width;         /* 384 */
    int dec_depth;         /* 4 */
    int dec_heads;         /* 6 */
    int dec_mlp;           /* 1536 */
    /* text */
    int vocab_size;        /* 30522 (BERT uncased)                              */
    int max_text_len;      /* learned positions (512)                           */
    int type_vocab;        /* token types (2; type 0 is always used)            */
    /* masking and losses */
    float video_mask_ratio;   /* 0.9: fraction of the HxW grid masked (tubes)  */
    float text_mask_ratio;    /* 0.75: per-token masking probability           */
    float ln_eps;             /* 1e-6 for encoder/decoder LayerNorms           */
    float text_ln_eps;        /* 1e-12 for the BERT embedding LayerNorm        */
    float text_dropout;       /* 0.1 on the BERT embeddings while training     */
    float vtc_temperature;    /* 0.05                                          */
    int vtc_pool_exclude_pad; /* 0 (as the released code): mean over padded
                                 text positions too; 1: valid positions only   */
    int vtm_hard_negatives;   /* 0: uniform random negatives; 1: sampled from
                                 VTC similarities                              */
    float drop_path;          /* fine-tuning stochastic depth at the last block
                                 (0.1), rising linearly from 0 over depth      */
} simvtp_config;

/* Fill *cfg with a named preset: "vit-b" (the paper), "small", "tiny"
 * (CPU-sized). Returns SIMVTP_ERR_INVALID_ARG for an unknown name. */
SIMVTP_API int simvtp_config_preset(const char *name, simvtp_config *cfg);

/* Check a configuration; SIMVTP_ERR_CONFIG with a detail message naming the
 * first offending field (e.g. heads must divide width). */
SIMVTP_API int simvtp_config_validate(const simvtp_config *cfg);

/* Derived sizes. */
SIMVTP_API int simvtp_config_num_video_tokens(const simvtp_config *cfg);   /* (T/t)(H/p)(W/p) */
SIMVTP_API int simvtp_config_num_visible_tokens(const simvtp_config *cfg); /* after tube masking */
SIMVTP_API int simvtp_config_tubelet_dim(const simvtp_config *cfg);        /* t*p*p*3 */

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_CONFIG_H */
