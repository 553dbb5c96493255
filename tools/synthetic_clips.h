/* synthetic_clips.h — simvtp-pretrain's --synthetic data: clips of a coloured
 * square moving across a dark, slightly noisy background, each captioned by
 * a template sentence ("a big red square moves left") with BERT uncased ids
 * from a fixed table. Clip (seed, index) is always the same. */
#ifndef TR_SYNTHETIC_CLIPS_H
#define TR_SYNTHETIC_CLIPS_H

#include <stdint.h>

#include <simvtp/simvtp.h>

#define SYN_CAPTION_LEN 8 /* [CLS] + 6 words + [SEP] for every template */

/* frames [T, H, W, 3] in the config's size, caption SYN_CAPTION_LEN ids
 * (folded below the config's vocab_size). */
void syn_make_clip(const simvtp_config *c, uint64_t seed, uint64_t index, uint8_t *frames,
                   int32_t *caption);
/* The word of a caption id (as folded for vocab), or NULL. */
const char *syn_word(int32_t id, int vocab);

#endif
