/* fuzz/fuzz_tokenize.c — simvtp_tokenizer_encode on arbitrary bytes (cut at
 * the first NUL), with the real BERT vocabulary when
 * data/vocab/bert-base-uncased.txt is there (SIMVTP_FUZZ_VOCAB overrides the
 * path), else a small hand-made one. The first input byte picks max_len
 * (2..65), the lowercase/strip_accents variant and a small max_chars_per_word;
 * the ids are decoded back into a small and a large buffer. */
#include "fuzz_common.h"

#ifndef FUZZ_SOURCE_ROOT
#define FUZZ_SOURCE_ROOT "."
#endif

static simvtp_tokenizer *load(int variant)
{
    simvtp_tokenizer_params p;
    simvtp_tokenizer_default_params(&p);
    p.lowercase = !(variant & 1);
    p.strip_accents = !(variant & 2);
    if (variant & 4) p.max_chars_per_word = 5;
    const char *path = getenv("SIMVTP_FUZZ_VOCAB");
    static const char real[] = FUZZ_SOURCE_ROOT "/data/vocab/bert-base-uncased.txt";
    if (!path && access(real, R_OK) == 0) path = real;
    simvtp_tokenizer *t = NULL;
    if (path && simvtp_tokenizer_load(path, &p, &t) == SIMVTP_OK) return t;
    if (simvtp_tokenizer_load(fz_write_str("small-vocab.txt", fz_small_vocab), &p, &t) != SIMVTP_OK) {
        fprintf(stderr, "fuzz: small vocabulary: %s\n", simvtp_last_error());
        abort();
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static simvtp_tokenizer *tok[8];
    if (size == 0) return 0;
    int variant = (data[0] >> 6) & 3;
    if ((data[0] & 0x20) && variant == 0) variant = 4;
    int max_len = 2 + (data[0] & 0x3F);
    if (!tok[variant]) tok[variant] = load(variant);
    char *text = malloc(size);
    if (!text) abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    int32_t ids[66];
    int len = -1;
    if (simvtp_tokenizer_encode(tok[variant], text, ids, max_len, &len) == SIMVTP_OK) {
        if (len < 2 || len > max_len) abort();
        char small[8], big[4096];
        fz_sink += (size_t)simvtp_tokenizer_decode(tok[variant], ids, max_len, 0, small, sizeof small);
        fz_sink += (size_t)simvtp_tokenizer_decode(tok[variant], ids, len, 1, big, sizeof big);
    }
    free(text);
    return 0;
}
