/* data/json.h — a small strict JSON (RFC 8259) parser into a read-only
 * tree: objects, arrays, strings (all escapes; \uXXXX surrogate pairs
 * become UTF-8; raw bytes must be valid UTF-8), numbers, true, false, null.
 * Every value remembers its line and column for messages. Errors are
 * SIMVTP_ERR_FORMAT with "path:line:col: what"; nesting is limited so that
 * hostile input cannot exhaust the stack. A leading UTF-8 BOM is ignored. */
#ifndef SV_JSON_H
#define SV_JSON_H

#include <stddef.h>
#include <stdint.h>

#define SV_JSON_DEFAULT_DEPTH 64

typedef enum sv_json_type {
    SV_JSON_NULL = 0,
    SV_JSON_FALSE,
    SV_JSON_TRUE,
    SV_JSON_NUMBER,
    SV_JSON_STRING,
    SV_JSON_ARRAY,
    SV_JSON_OBJECT
} sv_json_type;

typedef struct sv_json sv_json;
struct sv_json {
    uint8_t type;          /* sv_json_type                                     */
    uint8_t is_int;        /* NUMBER written without fraction/exponent, fits int64 */
    uint32_t line, col;    /* 1-based; col counts bytes                         */
    uint32_t key_len;      /* member name length (inside an object)             */
    const char *key;       /* member name, NUL-terminated; NULL outside objects */
    union {
        struct { double d; int64_t i; } num;        /* NUMBER (i valid if is_int) */
        struct { const char *s; size_t len; } str;  /* STRING, NUL-terminated     */
        struct { sv_json *first; size_t count; } kids; /* ARRAY / OBJECT          */
    } u;
    sv_json *next;         /* next element or member of the parent              */
};

typedef struct sv_json_doc {
    sv_json *root;
    /* private */
    void *blocks;
    char *strings;
} sv_json_doc;

/* Parse text[0..len). max_depth <= 0 means SV_JSON_DEFAULT_DEPTH. On
 * failure the doc is left empty (sv_json_free is still safe). */
int sv_json_parse(const uint8_t *text, size_t len, const char *path, int max_depth,
                  sv_json_doc *doc);
void sv_json_free(sv_json_doc *doc);

/* First member of `obj` called `key`, or NULL (also when obj is no object). */
const sv_json *sv_json_member(const sv_json *obj, const char *key);

#endif /* SV_JSON_H */
