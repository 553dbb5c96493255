/* simvtp/tokenizer.h — BERT uncased WordPiece from a standard vocab.txt:
 * text cleanup, lowercasing and accent stripping (Unicode), splitting on
 * whitespace, punctuation and CJK characters, greedy longest-match with
 * "##", [UNK] for words longer than max_chars_per_word, [CLS]/[SEP],
 * truncation and padding; and ids back to text.
 *
 * Thread safety: a loaded tokenizer is read-only; encode/decode may be
 * called from many threads at once. */
#ifndef SIMVTP_TOKENIZER_H
#define SIMVTP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simvtp_tokenizer simvtp_tokenizer;

typedef struct simvtp_tokenizer_params {
    size_t size;             /* sizeof(simvtp_tokenizer_params)                 */
    int lowercase;           /* 1 (uncased)                                      */
    int strip_accents;       /* 1                                                */
    int max_chars_per_word;  /* 100: longer words become [UNK]                   */
} simvtp_tokenizer_params;

SIMVTP_API void simvtp_tokenizer_default_params(simvtp_tokenizer_params *p);

/* Load a vocab.txt (one token per line, id = line number). Fails with
 * SIMVTP_ERR_IO (missing), SIMVTP_ERR_FORMAT (empty, duplicate token at
 * line N, missing [PAD]/[UNK]/[CLS]/[SEP]/[MASK]). */
SIMVTP_API int simvtp_tokenizer_load(const char *vocab_path, const simvtp_tokenizer_params *p,
                                     simvtp_tokenizer **out);
SIMVTP_API void simvtp_tokenizer_free(simvtp_tokenizer *t);

SIMVTP_API int simvtp_tokenizer_vocab_size(const simvtp_tokenizer *t);
/* Id of a token string, or -1. */
SIMVTP_API int simvtp_tokenizer_token_id(const simvtp_tokenizer *t, const char *token);
/* Token string of an id, or NULL when out of range. */
SIMVTP_API const char *simvtp_tokenizer_token(const simvtp_tokenizer *t, int id);

/* Encode UTF-8 `text` as [CLS] wordpieces [SEP], truncated so that the
 * whole fits max_len (>= 2) ids, the rest of ids[0..max_len) set to [PAD].
 * *length receives the number of valid ids. Invalid UTF-8 bytes are
 * dropped. */
SIMVTP_API int simvtp_tokenizer_encode(const simvtp_tokenizer *t, const char *text,
                                       int32_t *ids, int max_len, int *length);

/* Ids back to text: wordpieces joined ("##" continuations glued to the
 * previous piece, others separated by a space); [PAD] always skipped, other
 * special tokens skipped when skip_special. Writes at most cap bytes
 * including the NUL; returns the full length (excluding NUL) or < 0. */
SIMVTP_API int simvtp_tokenizer_decode(const simvtp_tokenizer *t, const int32_t *ids, int n,
                                       int skip_special, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_TOKENIZER_H */
