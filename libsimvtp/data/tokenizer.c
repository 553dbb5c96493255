/* data/tokenizer.c — the BERT uncased WordPiece tokenizer: loading a
 * vocab.txt into a hash table, encoding text (HuggingFace BasicTokenizer
 * cleanup and splitting, then greedy longest-match-first WordPiece) and
 * decoding ids back to text. Unicode tables live in data/unicode.c.
 *
 * As in Google's original BERT, special-token names written in the text
 * ("[MASK]") are not recognised: they split into "[", "mask", "]". */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp/tokenizer.h"
#include "core/fileio.h"
#include "core/status_internal.h"
#include "data/unicode.h"

#define MAX_CHARS_PER_WORD_LIMIT (1 << 20)
#define CONTINUATION "##"
#define CONTINUATION_LEN 2
#define EMPTY_SLOT (-1)

struct simvtp_tokenizer {
    simvtp_tokenizer_params params;
    char *data;           /* the vocab file, each line NUL-terminated in place */
    const char **tokens;  /* [n] token strings (into data)                     */
    size_t *lens;         /* [n] their byte lengths                             */
    int n;
    int32_t *slots;       /* open-addressing hash table of ids                  */
    size_t slot_mask;     /* capacity - 1 (capacity is a power of two)          */
    int pad_id, unk_id, cls_id, sep_id, mask_id;
};

/* ---- vocabulary hash table ---- */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* The slot holding `s`, or the empty slot where it would go. */
static size_t find_slot(const simvtp_tokenizer *t, const char *s, size_t n)
{
    size_t i = hash_bytes(s, n) & t->slot_mask;
    for (;;) {
        int32_t id = t->slots[i];
        if (id == EMPTY_SLOT || (t->lens[id] == n && memcmp(t->tokens[id], s, n) == 0)) return i;
        i = (i + 1) & t->slot_mask;
    }
}

static int lookup(const simvtp_tokenizer *t, const char *s, size_t n)
{
    return t->slots[find_slot(t, s, n)];
}

/* ---- loading ---- */

void simvtp_tokenizer_default_params(simvtp_tokenizer_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->lowercase = 1;
    p->strip_accents = 1;
    p->max_chars_per_word = 100;
}

static int check_params(const simvtp_tokenizer_params *p)
{
    SV_CHECK_ARG(p->size == sizeof *p,
                 "simvtp_tokenizer_params.size is %zu, expected %zu (use simvtp_tokenizer_default_params)",
                 p->size, sizeof *p);
    SV_CHECK_ARG(p->lowercase == 0 || p->lowercase == 1, "lowercase must be 0 or 1 (got %d)", p->lowercase);
    SV_CHECK_ARG(p->strip_accents == 0 || p->strip_accents == 1, "strip_accents must be 0 or 1 (got %d)",
                 p->strip_accents);
    SV_CHECK_ARG(p->max_chars_per_word >= 1 && p->max_chars_per_word <= MAX_CHARS_PER_WORD_LIMIT,
                 "max_chars_per_word must be in [1, %d] (got %d; BERT uses 100)", MAX_CHARS_PER_WORD_LIMIT,
                 p->max_chars_per_word);
    return SIMVTP_OK;
}

static int utf8_valid(const char *s, size_t n)
{
    size_t pos = 0;
    uint32_t cp;
    while (pos < n)
        if (!sv_utf8_decode((const uint8_t *)s, n, &pos, &cp)) return 0;
    return 1;
}

/* Split data[0..size) into lines, NUL-terminate them in place and index
 * them. data has room for one byte past size. */
static int index_lines(simvtp_tokenizer *t, const char *path, size_t size)
{
    char *d = t->data;
    size_t nlines = 0;
    for (size_t i = 0; i < size; i++) nlines += d[i] == '\n';
    if (d[size - 1] != '\n') nlines++;
    if (nlines > (size_t)INT_MAX / 4)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: %zu lines is too many for a vocabulary", path, nlines);
    t->n = (int)nlines;
    t->tokens = malloc(nlines * sizeof *t->tokens);
    t->lens = malloc(nlines * sizeof *t->lens);
    size_t cap = 16;
    while (cap < 2 * nlines) cap *= 2;
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->tokens || !t->lens || !t->slots)
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for a vocabulary of %zu tokens (%s)", nlines, path);
    for (size_t i = 0; i < cap; i++) t->slots[i] = EMPTY_SLOT;
    t->slot_mask = cap - 1;

    size_t start = 0;
    for (int id = 0; id < t->n; id++) {
        int line = id + 1;
        size_t end = start;
        while (end < size && d[end] != '\n') end++;
        size_t next = end + 1;
        if (end > start && d[end - 1] == '\r') end--;
        size_t len = end - start;
        if (len == 0)
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: empty token at line %d (a vocab.txt has one token per line)",
                           path, line);
        if (memchr(d + start, '\0', len))
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: NUL byte in the token at line %d", path, line);
        if (!utf8_valid(d + start, len))
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: the token at line %d is not valid UTF-8", path, line);
        d[end] = '\0';
        t->tokens[id] = d + start;
        t->lens[id] = len;
        size_t slot = find_slot(t, d + start, len);
        if (t->slots[slot] != EMPTY_SLOT)
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: duplicate token \"%.80s\" at lines %d and %d", path,
                           d + start, t->slots[slot] + 1, line);
        t->slots[slot] = id;
        start = next;
    }
    return SIMVTP_OK;
}

static int find_special(const simvtp_tokenizer *t, const char *path, const char *name, int *id)
{
    *id = lookup(t, name, strlen(name));
    if (*id < 0)
        return sv_fail(SIMVTP_ERR_FORMAT,
                       "%s: the vocabulary has no %s token (BERT's [PAD] [UNK] [CLS] [SEP] [MASK] are required)",
                       path, name);
    return SIMVTP_OK;
}

static int load_into(simvtp_tokenizer *t, const char *path)
{
    uint8_t *raw = NULL;
    size_t size = 0;
    SV_TRY(sv_read_file(path, &raw, &size));
    static const char bom[] = "\xEF\xBB\xBF";
    size_t skip = (size >= 3 && memcmp(raw, bom, 3) == 0) ? 3 : 0;
    if (size - skip == 0) {
        free(raw);
        return sv_fail(SIMVTP_ERR_FORMAT, "%s is empty (expected a vocab.txt, one token per line)", path);
    }
    size -= skip;
    t->data = malloc(size + 1);
    if (!t->data) {
        free(raw);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for the vocabulary %s (%zu bytes)", path, size);
    }
    memcpy(t->data, raw + skip, size);
    t->data[size] = '\0';
    free(raw);
    SV_TRY(index_lines(t, path, size));
    SV_TRY(find_special(t, path, "[PAD]", &t->pad_id));
    SV_TRY(find_special(t, path, "[UNK]", &t->unk_id));
    SV_TRY(find_special(t, path, "[CLS]", &t->cls_id));
    SV_TRY(find_special(t, path, "[SEP]", &t->sep_id));
    SV_TRY(find_special(t, path, "[MASK]", &t->mask_id));
    return SIMVTP_OK;
}

int simvtp_tokenizer_load(const char *vocab_path, const simvtp_tokenizer_params *p, simvtp_tokenizer **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    SV_CHECK_ARG(vocab_path, "vocab_path is NULL");
    simvtp_tokenizer_params def;
    if (!p) {
        simvtp_tokenizer_default_params(&def);
        p = &def;
    }
    SV_TRY(check_params(p));
    simvtp_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for a tokenizer");
    t->params = *p;
    int rc = load_into(t, vocab_path);
    if (rc != SIMVTP_OK) {
        simvtp_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return SIMVTP_OK;
}

void simvtp_tokenizer_free(simvtp_tokenizer *t)
{
    if (!t) return;
    free(t->slots);
    free(t->lens);
    free(t->tokens);
    free(t->data);
    free(t);
}

/* ---- lookups ---- */

int simvtp_tokenizer_vocab_size(const simvtp_tokenizer *t)
{
    sv_clear_error();
    SV_CHECK_ARG(t, "tokenizer is NULL");
    return t->n;
}

int simvtp_tokenizer_token_id(const simvtp_tokenizer *t, const char *token)
{
    sv_clear_error();
    if (!t || !token) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "%s is NULL", t ? "token" : "tokenizer");
        return -1;
    }
    return lookup(t, token, strlen(token));
}

const char *simvtp_tokenizer_token(const simvtp_tokenizer *t, int id)
{
    sv_clear_error();
    if (!t) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "tokenizer is NULL");
        return NULL;
    }
    if (id < 0 || id >= t->n) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "id %d is outside the vocabulary [0, %d)", id, t->n);
        return NULL;
    }
    return t->tokens[id];
}

/* ---- encoding ---- */

/* State of one encode call (its buffers are private to the call). */
typedef struct encoder {
    const simvtp_tokenizer *t;
    uint32_t *word;    /* code points of the current word (max_chars kept)   */
    size_t word_len;   /* its length, which may exceed max_chars              */
    uint8_t *bytes;    /* CONTINUATION_LEN bytes of slack, then its UTF-8     */
    size_t *offsets;   /* [max_chars + 1] byte offset of each code point      */
    int32_t *pieces;   /* [max_chars] ids of the word's pieces                */
    int32_t *ids;      /* the output                                          */
    int count, limit;  /* ids written so far; where the pieces must stop      */
} encoder;

static int encoder_full(const encoder *e) { return e->count >= e->limit; }

static void emit(encoder *e, int32_t id)
{
    if (!encoder_full(e)) e->ids[e->count++] = id;
}

/* Greedy longest-match-first WordPiece of the current word; [UNK] when the
 * word is too long or some part of it matches nothing. */
static void flush_word(encoder *e)
{
    const simvtp_tokenizer *t = e->t;
    size_t n = e->word_len;
    e->word_len = 0;
    if (n == 0) return;
    if (n > (size_t)t->params.max_chars_per_word) {
        emit(e, t->unk_id);
        return;
    }
    uint8_t *text = e->bytes + CONTINUATION_LEN;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        e->offsets[i] = off;
        off += sv_utf8_encode(e->word[i], text + off);
    }
    e->offsets[n] = off;

    size_t npieces = 0, start = 0;
    while (start < n) {
        int found = -1;
        size_t end = n;
        for (; end > start; end--) {
            char *s = (char *)text + e->offsets[start];
            size_t len = e->offsets[end] - e->offsets[start];
            if (start > 0) {
                /* "##" goes over the last bytes of pieces already matched
                 * (or into the slack before the word) */
                s -= CONTINUATION_LEN;
                len += CONTINUATION_LEN;
                memcpy(s, CONTINUATION, CONTINUATION_LEN);
            }
            found = lookup(t, s, len);
            if (found >= 0) break;
        }
        if (found < 0) {
            emit(e, t->unk_id);
            return;
        }
        e->pieces[npieces++] = found;
        start = end;
    }
    for (size_t i = 0; i < npieces; i++) emit(e, e->pieces[i]);
}

static void push_char(encoder *e, uint32_t cp)
{
    if (e->word_len < (size_t)e->t->params.max_chars_per_word) e->word[e->word_len] = cp;
    e->word_len++; /* past max_chars only counted: the word becomes [UNK] */
}

/* One whitespace-separated token (original characters): lowercase, strip
 * accents, split on punctuation, WordPiece each part. */
static void encode_token(encoder *e, const uint32_t *tok, size_t n)
{
    const simvtp_tokenizer_params *p = &e->t->params;
    for (size_t k = 0; k < n && !encoder_full(e); k++) {
        uint32_t c = tok[k];
        if (p->lowercase) c = c == 0x03A3 ? sv_uc_lower_sigma(tok, n, k) : sv_uc_lower(c);
        uint32_t parts[SV_UC_MAX_DECOMP];
        int m = 1;
        if (p->strip_accents) m = sv_uc_strip_accents(c, parts);
        else parts[0] = c;
        for (int j = 0; j < m; j++) {
            if (sv_uc_is_punct(parts[j])) {
                flush_word(e);
                push_char(e, parts[j]);
                flush_word(e);
            } else {
                push_char(e, parts[j]);
            }
        }
    }
    flush_word(e);
}

/* Text cleanup: drop invalid UTF-8, U+FFFD and control characters; every
 * whitespace character becomes a space. Returns the code point count. */
static size_t clean_text(const char *text, size_t n, uint32_t *out)
{
    size_t pos = 0, k = 0;
    while (pos < n) {
        uint32_t cp;
        if (!sv_utf8_decode((const uint8_t *)text, n, &pos, &cp)) continue;
        if (cp == 0 || cp == 0xFFFD || sv_uc_is_control(cp)) continue;
        out[k++] = sv_uc_is_whitespace(cp) ? ' ' : cp;
    }
    return k;
}

int simvtp_tokenizer_encode(const simvtp_tokenizer *t, const char *text, int32_t *ids, int max_len,
                            int *length)
{
    sv_clear_error();
    SV_CHECK_ARG(t, "tokenizer is NULL");
    SV_CHECK_ARG(text, "text is NULL");
    SV_CHECK_ARG(ids, "ids is NULL");
    SV_CHECK_ARG(length, "length is NULL");
    SV_CHECK_ARG(max_len >= 2, "max_len is %d; it must be >= 2 to hold [CLS] and [SEP]", max_len);

    size_t n = strlen(text);
    size_t maxw = (size_t)t->params.max_chars_per_word;
    uint32_t *cps = malloc((n ? n : 1) * sizeof *cps);
    encoder e = {
        .t = t,
        .word = malloc(maxw * sizeof(uint32_t)),
        .bytes = malloc(CONTINUATION_LEN + maxw * SV_UTF8_MAX),
        .offsets = malloc((maxw + 1) * sizeof(size_t)),
        .pieces = malloc(maxw * sizeof(int32_t)),
        .ids = ids,
        .count = 0,
        .limit = max_len - 1,
    };
    int rc = SIMVTP_OK;
    if (!cps || !e.word || !e.bytes || !e.offsets || !e.pieces) {
        rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory encoding a text of %zu bytes", n);
        goto done;
    }

    emit(&e, t->cls_id);
    size_t ncp = clean_text(text, n, cps);
    size_t i = 0;
    while (i < ncp && !encoder_full(&e)) {
        if (cps[i] == ' ') {
            i++;
            continue;
        }
        size_t end = i + 1; /* a CJK ideograph is a token on its own */
        if (!sv_uc_is_cjk(cps[i]))
            while (end < ncp && cps[end] != ' ' && !sv_uc_is_cjk(cps[end])) end++;
        encode_token(&e, cps + i, end - i);
        i = end;
    }
    e.ids[e.count++] = t->sep_id;
    *length = e.count;
    for (int k = e.count; k < max_len; k++) ids[k] = t->pad_id;

done:
    free(cps);
    free(e.word);
    free(e.bytes);
    free(e.offsets);
    free(e.pieces);
    return rc;
}

/* ---- decoding ---- */

/* Output that counts every byte but stores only whole UTF-8 characters
 * that fit before the final NUL. */
typedef struct text_out {
    char *buf;
    size_t cap, total, written;
    int full;
} text_out;

static size_t utf8_seq_len(uint8_t lead)
{
    return lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 4;
}

static void put(text_out *o, const char *s, size_t n)
{
    o->total += n;
    for (size_t i = 0; i < n && !o->full;) {
        size_t len = utf8_seq_len((uint8_t)s[i]);
        if (len > n - i) len = n - i;
        if (o->cap == 0 || o->written + len > o->cap - 1) {
            o->full = 1;
            break;
        }
        memcpy(o->buf + o->written, s + i, len);
        o->written += len;
        i += len;
    }
}

static int is_special(const simvtp_tokenizer *t, int id)
{
    return id == t->pad_id || id == t->unk_id || id == t->cls_id || id == t->sep_id || id == t->mask_id;
}

int simvtp_tokenizer_decode(const simvtp_tokenizer *t, const int32_t *ids, int n, int skip_special, char *out,
                            size_t cap)
{
    sv_clear_error();
    SV_CHECK_ARG(t, "tokenizer is NULL");
    SV_CHECK_ARG(n >= 0, "n is %d; it must be >= 0", n);
    SV_CHECK_ARG(ids || n == 0, "ids is NULL");
    SV_CHECK_ARG(out || cap == 0, "out is NULL but cap is %zu", cap);
    if (cap > 0) out[0] = '\0';
    for (int i = 0; i < n; i++)
        SV_CHECK_ARG(ids[i] >= 0 && ids[i] < t->n, "ids[%d] = %d is outside the vocabulary [0, %d)", i,
                     (int)ids[i], t->n);

    text_out o = {.buf = out, .cap = cap};
    for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (id == t->pad_id || (skip_special && is_special(t, id))) continue;
        const char *s = t->tokens[id];
        size_t len = t->lens[id];
        if (len > CONTINUATION_LEN && memcmp(s, CONTINUATION, CONTINUATION_LEN) == 0) {
            put(&o, s + CONTINUATION_LEN, len - CONTINUATION_LEN);
        } else {
            if (o.total > 0) put(&o, " ", 1);
            put(&o, s, len);
        }
        if (o.total > (size_t)INT_MAX) {
            if (cap > 0) out[0] = '\0';
            return sv_fail(SIMVTP_ERR_INVALID_ARG, "the decoded text is longer than INT_MAX bytes");
        }
    }
    if (cap > 0) out[o.written] = '\0';
    return (int)o.total;
}
