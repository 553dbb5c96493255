/* data/csv.c — the RFC 4180 reader of csv.h: one record per call, fields
 * unquoted into a reusable buffer, resynchronisation on the next line after
 * a malformed record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status_internal.h"
#include "data/csv.h"

enum { SV_CSV_BLANK = 3 }; /* internal: an empty line, not a record */

void sv_csv_init(sv_csv *c, const uint8_t *data, size_t size, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = path ? path : "(csv)";
    c->p = data;
    c->size = size;
    c->next_line = 1;
    if (size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) c->pos = 3;
}

void sv_csv_free(sv_csv *c)
{
    if (!c) return;
    free(c->buf);
    free(c->offs);
    free(c->lens);
    free(c->fields);
    free(c->names);
    free(c->names_buf);
    c->buf = NULL;
    c->offs = NULL;
    c->lens = NULL;
    c->fields = NULL;
    c->names = NULL;
    c->names_buf = NULL;
}

static int buf_reserve(sv_csv *c, size_t extra)
{
    if (c->buf_len + extra <= c->buf_cap) return SIMVTP_OK;
    size_t cap = c->buf_cap ? c->buf_cap : 256;
    while (cap < c->buf_len + extra) cap *= 2;
    char *b = realloc(c->buf, cap);
    if (!b) return sv_fail(SIMVTP_ERR_NOMEM, "%s: out of memory for a record of %zu bytes", c->path, cap);
    c->buf = b;
    c->buf_cap = cap;
    return SIMVTP_OK;
}

static int buf_append(sv_csv *c, const uint8_t *s, size_t n)
{
    if (n == 0) return SIMVTP_OK;
    SV_TRY(buf_reserve(c, n));
    memcpy(c->buf + c->buf_len, s, n);
    c->buf_len += n;
    return SIMVTP_OK;
}

/* Close the field that started at buffer offset `off`. */
static int end_field(sv_csv *c, size_t off)
{
    if (c->nfields == c->fields_cap) {
        int cap = c->fields_cap ? c->fields_cap * 2 : 16;
        size_t *o = realloc(c->offs, (size_t)cap * sizeof *o);
        if (o) c->offs = o;
        size_t *l = realloc(c->lens, (size_t)cap * sizeof *l);
        if (l) c->lens = l;
        char **f = realloc(c->fields, (size_t)cap * sizeof *f);
        if (f) c->fields = f;
        if (!o || !l || !f) return sv_fail(SIMVTP_ERR_NOMEM, "%s: out of memory for %d fields", c->path, cap);
        c->fields_cap = cap;
    }
    c->offs[c->nfields] = off;
    c->lens[c->nfields] = c->buf_len - off;
    c->nfields++;
    SV_TRY(buf_reserve(c, 1));
    c->buf[c->buf_len++] = '\0';
    return SIMVTP_OK;
}

/* After a malformed record: continue at the line after the one it began on. */
static void resync(sv_csv *c, size_t start)
{
    size_t i = start;
    while (i < c->size && c->p[i] != '\n' && c->p[i] != '\r') i++;
    if (i < c->size) {
        if (c->p[i] == '\r' && i + 1 < c->size && c->p[i + 1] == '\n') i++;
        i++;
    }
    c->pos = i;
    c->next_line = c->line + 1;
}

/* Parse one record at c->pos. Returns SV_CSV_ROW/BAD/END or a status. */
static int parse_one(sv_csv *c)
{
    const uint8_t *p = c->p;
    size_t n = c->size;
    c->nfields = 0;
    c->buf_len = 0;
    c->err[0] = '\0';
    if (c->pos >= n) return SV_CSV_END;
    size_t start = c->pos;
    c->line = c->next_line;
    int64_t line = c->line;
    int any_quoted = 0;
    for (;;) {
        size_t off = c->buf_len;
        if (c->pos < n && p[c->pos] == '"') {
            any_quoted = 1;
            int64_t qline = line;
            size_t i = c->pos + 1;
            for (;;) {
                size_t j = i;
                while (j < n && p[j] != '"') {
                    if (p[j] == '\n' || (p[j] == '\r' && (j + 1 >= n || p[j + 1] != '\n'))) line++;
                    j++;
                }
                SV_TRY(buf_append(c, p + i, j - i));
                if (j >= n) {
                    snprintf(c->err, sizeof c->err, "unterminated quoted field (opened on line %lld)",
                             (long long)qline);
                    resync(c, start);
                    c->nfields = 0;
                    return SV_CSV_BAD;
                }
                if (j + 1 < n && p[j + 1] == '"') { /* doubled quote */
                    SV_TRY(buf_append(c, p + j, 1));
                    i = j + 2;
                    continue;
                }
                c->pos = j + 1;
                break;
            }
            if (c->pos < n && p[c->pos] != ',' && p[c->pos] != '\n' && p[c->pos] != '\r') {
                snprintf(c->err, sizeof c->err, "unexpected '%c' after the closing quote of field %d",
                         p[c->pos] >= 0x20 && p[c->pos] < 0x7f ? p[c->pos] : '?', c->nfields + 1);
                resync(c, start);
                c->nfields = 0;
                return SV_CSV_BAD;
            }
        } else {
            size_t j = c->pos;
            while (j < n && p[j] != ',' && p[j] != '\n' && p[j] != '\r') j++;
            SV_TRY(buf_append(c, p + c->pos, j - c->pos));
            c->pos = j;
        }
        SV_TRY(end_field(c, off));
        if (c->pos >= n) break;
        uint8_t ch = p[c->pos++];
        if (ch == ',') continue;
        if (ch == '\r' && c->pos < n && p[c->pos] == '\n') c->pos++;
        line++;
        break;
    }
    c->next_line = line;
    for (int k = 0; k < c->nfields; k++) c->fields[k] = c->buf + c->offs[k];
    if (c->nfields == 1 && c->lens[0] == 0 && !any_quoted) return SV_CSV_BLANK;
    return SV_CSV_ROW;
}

/* parse_one, skipping blank lines. */
static int parse_record(sv_csv *c)
{
    int rc;
    while ((rc = parse_one(c)) == SV_CSV_BLANK) {}
    return rc;
}

int sv_csv_next(sv_csv *c)
{
    int rc = parse_record(c);
    if (rc < 0 || rc == SV_CSV_END) return rc;
    c->row++;
    if (rc == SV_CSV_ROW && c->ncols > 0 && c->nfields != c->ncols) {
        snprintf(c->err, sizeof c->err, "%d fields where the header has %d", c->nfields, c->ncols);
        return SV_CSV_BAD;
    }
    return rc;
}

int sv_csv_read_header(sv_csv *c)
{
    int rc = parse_record(c);
    if (rc < 0) return rc;
    if (rc == SV_CSV_END) return sv_fail(SIMVTP_ERR_FORMAT, "%s: empty file (no header row)", c->path);
    if (rc == SV_CSV_BAD)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: line %lld: malformed header row: %s", c->path,
                       (long long)c->line, c->err);
    c->names = malloc((size_t)c->nfields * sizeof *c->names);
    c->names_buf = malloc(c->buf_len ? c->buf_len : 1);
    if (!c->names || !c->names_buf)
        return sv_fail(SIMVTP_ERR_NOMEM, "%s: out of memory for the header", c->path);
    memcpy(c->names_buf, c->buf, c->buf_len);
    for (int k = 0; k < c->nfields; k++) c->names[k] = c->names_buf + c->offs[k];
    c->ncols = c->nfields;
    c->row = 0;
    return SIMVTP_OK;
}

int sv_csv_column(const sv_csv *c, const char *name)
{
    for (int k = 0; k < c->ncols; k++)
        if (strcmp(c->names[k], name) == 0) return k;
    return -1;
}
