/* core/config_internal.h — config (de)serialization as a fixed list of
 * 32-bit words (ints as int32, floats as their IEEE bits) for file headers,
 * and comparison. */
#ifndef SV_CONFIG_INTERNAL_H
#define SV_CONFIG_INTERNAL_H

#include <stdint.h>
#include "simvtp/config.h"

#define SV_CONFIG_WORDS 25

void sv_config_to_words(const simvtp_config *cfg, uint32_t w[SV_CONFIG_WORDS]);
void sv_config_from_words(simvtp_config *cfg, const uint32_t w[SV_CONFIG_WORDS]);
/* 1 when the two configs describe the same model (all fields equal). */
int sv_config_equal(const simvtp_config *a, const simvtp_config *b);
/* Name of the first differing field (for mismatch messages), or NULL. */
const char *sv_config_first_difference(const simvtp_config *a, const simvtp_config *b);

#endif /* SV_CONFIG_INTERNAL_H */
