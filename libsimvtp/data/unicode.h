/* data/unicode.h — the Unicode pieces the BERT tokenizer needs: UTF-8
 * decoding and encoding, character classes (whitespace, control,
 * punctuation, CJK ideograph, nonspacing mark, cased), lowercasing and
 * accent stripping (canonical decomposition without the marks). Tables
 * and what they cover are described in unicode.c. */
#ifndef SV_UNICODE_H
#define SV_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#define SV_UTF8_MAX 4          /* bytes of the longest UTF-8 sequence        */
#define SV_UC_MAX_DECOMP 3     /* code points of the longest base decomposition */

/* Decode one code point from s[*pos..n). On success returns 1, stores it in
 * *cp and advances *pos past it. On an invalid sequence (bad lead byte,
 * truncated, overlong, surrogate, > U+10FFFF) returns 0 and advances *pos
 * by one byte. */
int sv_utf8_decode(const uint8_t *s, size_t n, size_t *pos, uint32_t *cp);

/* Encode cp (a valid scalar value) into out; returns the byte count (1..4),
 * or 0 for a surrogate or a value above U+10FFFF. */
size_t sv_utf8_encode(uint32_t cp, uint8_t out[SV_UTF8_MAX]);

/* BERT's classes (HuggingFace BasicTokenizer): */
int sv_uc_is_whitespace(uint32_t cp);  /* space, \t, \n, \r, Zs, U+2028/9  */
int sv_uc_is_control(uint32_t cp);     /* Cc (not \t\n\r), Cf, Co           */
int sv_uc_is_punct(uint32_t cp);       /* ASCII 33-47,58-64,91-96,123-126, P* */
int sv_uc_is_cjk(uint32_t cp);         /* _is_chinese_char's blocks          */

int sv_uc_is_nonspacing_mark(uint32_t cp); /* general category Mn            */
int sv_uc_is_cased(uint32_t cp);           /* Unicode Cased property         */
int sv_uc_is_case_ignorable(uint32_t cp);  /* approximation, see unicode.c   */

/* Simple lowercase mapping (U+0130 maps to plain 'i'). */
uint32_t sv_uc_lower(uint32_t cp);

/* Lowercase of the capital sigma U+03A3 at index i of word[0..n): final
 * sigma U+03C2 when preceded by a cased letter and not followed by one
 * (case-ignorable characters skipped), else U+03C3. */
uint32_t sv_uc_lower_sigma(const uint32_t *word, size_t n, size_t i);

/* Accent stripping of one code point: NFD with the nonspacing marks (Mn)
 * removed. Writes 0..SV_UC_MAX_DECOMP code points to out and returns how
 * many (0 for a mark itself, 1 for most, 2-3 for Hangul syllables). */
int sv_uc_strip_accents(uint32_t cp, uint32_t out[SV_UC_MAX_DECOMP]);

#endif /* SV_UNICODE_H */
