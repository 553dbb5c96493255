/* data/json.c — the strict recursive-descent JSON parser of json.h. Values
 * live in blocks of nodes; decoded strings in one buffer no longer than the
 * input (an escape never decodes to more bytes than it takes). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status_internal.h"
#include "data/json.h"

#define NODES_PER_BLOCK 1024
#define MAX_SIG_DIGITS 19 /* decimal digits that fit a uint64 mantissa */

typedef struct node_block {
    struct node_block *prev;
    size_t used;
    sv_json nodes[NODES_PER_BLOCK];
} node_block;

typedef struct parser {
    const uint8_t *p;
    size_t n, pos;
    uint32_t line;
    size_t line_start;
    const char *path;
    int max_depth;
    node_block *blocks;
    char *str;
    size_t str_len;
} parser;

static uint32_t col_of(const parser *ps, size_t at)
{
    return (uint32_t)(at - ps->line_start + 1);
}

static int perr(const parser *ps, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(const parser *ps, size_t at, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sv_fail(SIMVTP_ERR_FORMAT, "%s:%u:%u: %s", ps->path, ps->line, col_of(ps, at), what);
}

static sv_json *new_node(parser *ps, int type)
{
    node_block *b = ps->blocks;
    if (!b || b->used == NODES_PER_BLOCK) {
        b = malloc(sizeof *b);
        if (!b) return NULL;
        b->prev = ps->blocks;
        b->used = 0;
        ps->blocks = b;
    }
    sv_json *v = &b->nodes[b->used++];
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
    v->line = ps->line;
    v->col = col_of(ps, ps->pos);
    return v;
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->n) {
        uint8_t c = ps->p[ps->pos];
        if (c == '\n') {
            ps->line++;
            ps->line_start = ps->pos + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        ps->pos++;
    }
}

static int describe(const parser *ps, char *out, size_t cap)
{
    if (ps->pos >= ps->n) return snprintf(out, cap, "end of input");
    uint8_t c = ps->p[ps->pos];
    if (c >= 0x20 && c < 0x7f) return snprintf(out, cap, "'%c'", c);
    return snprintf(out, cap, "byte 0x%02X", c);
}

static int unexpected(const parser *ps, const char *expected)
{
    char got[32];
    describe(ps, got, sizeof got);
    return perr(ps, ps->pos, "expected %s, found %s", expected, got);
}

static int hex4(const uint8_t *s, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) { d[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s[0..avail), or 0 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const uint8_t *s, size_t avail)
{
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return len;
}

/* Parse the string at ps->pos (on its opening quote) into the string buffer. */
static int parse_string(parser *ps, const char **out, size_t *out_len)
{
    const uint8_t *p = ps->p;
    size_t open = ps->pos;
    size_t i = ps->pos + 1;
    char *d = ps->str + ps->str_len;
    size_t dn = 0;
    for (;;) {
        if (i >= ps->n) return perr(ps, open, "unterminated string (end of input)");
        uint8_t c = p[i];
        if (c == '"') break;
        if (c == '\\') {
            if (i + 1 >= ps->n) return perr(ps, open, "unterminated string (end of input)");
            uint8_t e = p[i + 1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                d[dn++] = map[simple - "\"\\/bfnrt"];
                i += 2;
                continue;
            }
            if (e != 'u') return perr(ps, i, "invalid escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            unsigned cp;
            if (i + 6 > ps->n || !hex4(p + i + 2, &cp))
                return perr(ps, i, "\\u needs four hex digits");
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (i + 6 > ps->n || p[i] != '\\' || p[i + 1] != 'u' || !hex4(p + i + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return perr(ps, i - 6, "high surrogate \\u%04X without a low surrogate after it", cp);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return perr(ps, i - 6, "low surrogate \\u%04X without a high surrogate before it", cp);
            }
            dn += put_utf8(d + dn, cp);
            continue;
        }
        if (c < 0x20) {
            if (c == '\n') return perr(ps, open, "unterminated string (line break before the closing quote)");
            return perr(ps, i, "control character 0x%02X in a string (escape it)", c);
        }
        if (c < 0x80) {
            d[dn++] = (char)c;
            i++;
            continue;
        }
        size_t len = utf8_len(p + i, ps->n - i);
        if (!len) return perr(ps, i, "invalid UTF-8 byte 0x%02X in a string", c);
        memcpy(d + dn, p + i, len);
        dn += len;
        i += len;
    }
    d[dn] = '\0';
    *out = d;
    *out_len = dn;
    ps->str_len += dn + 1;
    ps->pos = i + 1;
    return SIMVTP_OK;
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *ps, sv_json *v)
{
    const uint8_t *p = ps->p;
    size_t i = ps->pos, n = ps->n;
    int neg = 0, frac = 0, expo = 0, overflow = 0;
    uint64_t mant = 0, iv = 0;
    int sig = 0;
    long exp10 = 0;
    if (p[i] == '-') { neg = 1; i++; }
    if (i >= n || !is_digit(p[i])) return perr(ps, i, "invalid number: a digit must follow '-'");
    if (p[i] == '0' && i + 1 < n && is_digit(p[i + 1]))
        return perr(ps, i, "invalid number: leading zero");
    for (; i < n && is_digit(p[i]); i++) {
        unsigned dg = p[i] - '0';
        if (iv > (UINT64_MAX - dg) / 10) overflow = 1;
        else iv = iv * 10 + dg;
        if (mant == 0 && dg == 0) continue;
        if (sig < MAX_SIG_DIGITS) { mant = mant * 10 + dg; sig++; }
        else exp10++;
    }
    if (i < n && p[i] == '.') {
        frac = 1;
        i++;
        if (i >= n || !is_digit(p[i])) return perr(ps, i, "invalid number: a digit must follow '.'");
        for (; i < n && is_digit(p[i]); i++) {
            unsigned dg = p[i] - '0';
            if (mant == 0 && dg == 0) { exp10--; continue; }
            if (sig < MAX_SIG_DIGITS) { mant = mant * 10 + dg; sig++; exp10--; }
        }
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        expo = 1;
        i++;
        int eneg = 0;
        long e = 0;
        if (i < n && (p[i] == '+' || p[i] == '-')) { eneg = p[i] == '-'; i++; }
        if (i >= n || !is_digit(p[i])) return perr(ps, i, "invalid number: a digit must follow the exponent");
        for (; i < n && is_digit(p[i]); i++)
            if (e < 100000) e = e * 10 + (p[i] - '0');
        exp10 += eneg ? -e : e;
    }
    if (!frac && !expo && !overflow && iv <= (uint64_t)INT64_MAX + (uint64_t)neg) {
        v->is_int = 1;
        v->u.num.i = neg ? (int64_t)(0 - iv) : (int64_t)iv;
        v->u.num.d = (double)v->u.num.i;
    } else {
        double d = mant ? (double)mant * pow(10.0, (double)exp10) : 0.0;
        v->u.num.d = neg ? -d : d;
    }
    ps->pos = i;
    return SIMVTP_OK;
}

static int parse_value(parser *ps, int depth, sv_json **out);

static int nomem(const parser *ps)
{
    return sv_fail(SIMVTP_ERR_NOMEM, "%s: out of memory while parsing JSON", ps->path);
}

static int parse_container(parser *ps, int depth, sv_json *v, int is_object)
{
    uint8_t close = is_object ? '}' : ']';
    if (depth > ps->max_depth)
        return perr(ps, ps->pos, "nesting deeper than %d levels", ps->max_depth);
    ps->pos++;
    skip_ws(ps);
    if (ps->pos < ps->n && ps->p[ps->pos] == close) {
        ps->pos++;
        return SIMVTP_OK;
    }
    sv_json *last = NULL;
    for (;;) {
        skip_ws(ps);
        const char *key = NULL;
        size_t key_len = 0;
        if (is_object) {
            if (ps->pos >= ps->n || ps->p[ps->pos] != '"') return unexpected(ps, "a member name in quotes");
            SV_TRY(parse_string(ps, &key, &key_len));
            skip_ws(ps);
            if (ps->pos >= ps->n || ps->p[ps->pos] != ':') return unexpected(ps, "':' after the member name");
            ps->pos++;
        }
        sv_json *child;
        SV_TRY(parse_value(ps, depth, &child));
        child->key = key;
        child->key_len = (uint32_t)key_len;
        if (last) last->next = child;
        else v->u.kids.first = child;
        last = child;
        v->u.kids.count++;
        skip_ws(ps);
        if (ps->pos < ps->n && ps->p[ps->pos] == ',') { ps->pos++; continue; }
        if (ps->pos < ps->n && ps->p[ps->pos] == close) { ps->pos++; return SIMVTP_OK; }
        return unexpected(ps, is_object ? "',' or '}'" : "',' or ']'");
    }
}

static int parse_value(parser *ps, int depth, sv_json **out)
{
    skip_ws(ps);
    if (ps->pos >= ps->n) return perr(ps, ps->pos, "unexpected end of input (a value is missing)");
    uint8_t c = ps->p[ps->pos];
    int type;
    switch (c) {
    case '{': type = SV_JSON_OBJECT; break;
    case '[': type = SV_JSON_ARRAY; break;
    case '"': type = SV_JSON_STRING; break;
    case 't': type = SV_JSON_TRUE; break;
    case 'f': type = SV_JSON_FALSE; break;
    case 'n': type = SV_JSON_NULL; break;
    default:
        if (c == '-' || is_digit(c)) { type = SV_JSON_NUMBER; break; }
        return unexpected(ps, "a value");
    }
    sv_json *v = new_node(ps, type);
    if (!v) return nomem(ps);
    *out = v;
    switch (type) {
    case SV_JSON_OBJECT: return parse_container(ps, depth + 1, v, 1);
    case SV_JSON_ARRAY: return parse_container(ps, depth + 1, v, 0);
    case SV_JSON_STRING: return parse_string(ps, &v->u.str.s, &v->u.str.len);
    case SV_JSON_NUMBER: return parse_number(ps, v);
    default: {
        const char *word = type == SV_JSON_TRUE ? "true" : type == SV_JSON_FALSE ? "false" : "null";
        size_t wl = strlen(word);
        if (ps->n - ps->pos < wl || memcmp(ps->p + ps->pos, word, wl) != 0)
            return perr(ps, ps->pos, "invalid literal (expected %s)", word);
        ps->pos += wl;
        return SIMVTP_OK;
    }
    }
}

static void free_blocks(node_block *b)
{
    while (b) {
        node_block *prev = b->prev;
        free(b);
        b = prev;
    }
}

int sv_json_parse(const uint8_t *text, size_t len, const char *path, int max_depth,
                  sv_json_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    parser ps = {0};
    ps.p = text;
    ps.n = len;
    ps.line = 1;
    ps.path = path ? path : "(json)";
    ps.max_depth = max_depth > 0 ? max_depth : SV_JSON_DEFAULT_DEPTH;
    if (len >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF) ps.pos = ps.line_start = 3;
    ps.str = malloc(len + 1);
    if (!ps.str) return nomem(&ps);
    sv_json *root = NULL;
    int rc = parse_value(&ps, 0, &root);
    if (rc == SIMVTP_OK) {
        skip_ws(&ps);
        if (ps.pos < ps.n) rc = perr(&ps, ps.pos, "unexpected text after the JSON value");
    }
    if (rc != SIMVTP_OK) {
        free_blocks(ps.blocks);
        free(ps.str);
        return rc;
    }
    doc->root = root;
    doc->blocks = ps.blocks;
    doc->strings = ps.str;
    return SIMVTP_OK;
}

void sv_json_free(sv_json_doc *doc)
{
    if (!doc) return;
    free_blocks(doc->blocks);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const sv_json *sv_json_member(const sv_json *obj, const char *key)
{
    if (!obj || obj->type != SV_JSON_OBJECT) return NULL;
    size_t kl = strlen(key);
    for (const sv_json *m = obj->u.kids.first; m; m = m->next)
        if (m->key_len == kl && memcmp(m->key, key, kl) == 0) return m;
    return NULL;
}
