/* data/csv.h — an RFC 4180 CSV reader over a buffer in memory: quoted
 * fields (commas, doubled quotes, line breaks inside quotes), \n, \r\n or
 * \r line ends, a missing final line end, a leading UTF-8 BOM, a header row
 * looked up by column name. Records are pulled one at a time; a malformed
 * record (unterminated quote, text after a closing quote, a field count
 * other than the header's) is reported with its line and row, and reading
 * resumes on the next line, so one bad row never hides the rest of a file.
 * Blank lines are skipped. A quote inside an unquoted field is kept as text. */
#ifndef SV_CSV_H
#define SV_CSV_H

#include <stddef.h>
#include <stdint.h>

/* What sv_csv_next returns besides a negative status. */
enum {
    SV_CSV_END = 0, /* no more records                                      */
    SV_CSV_ROW = 1, /* a record: fields[0..nfields) are set                 */
    SV_CSV_BAD = 2  /* a malformed record, skipped: err says why            */
};

typedef struct sv_csv {
    /* read-only for callers */
    const char *path;      /* for messages                                      */
    int64_t line;          /* 1-based line where the current record starts      */
    int64_t row;           /* 1-based data row of the current record (0 = header) */
    int ncols;             /* header fields (0 before sv_csv_read_header)       */
    int nfields;           /* fields of the current record (0 after a quote error) */
    char **fields;         /* NUL-terminated, valid until the next call         */
    size_t *lens;          /* byte lengths (a field may hold a NUL from the file) */
    char err[160];         /* why the current record is malformed               */
    /* private */
    const uint8_t *p;
    size_t size, pos;
    int64_t next_line;
    char *buf;
    size_t buf_len, buf_cap;
    size_t *offs;
    int fields_cap;
    char **names;
    char *names_buf;
} sv_csv;

/* Start reading `data` (not copied: it must outlive the reader). */
void sv_csv_init(sv_csv *c, const uint8_t *data, size_t size, const char *path);
void sv_csv_free(sv_csv *c);

/* Read the first record as the header: SIMVTP_ERR_FORMAT naming the file
 * when it is empty or the header is malformed. */
int sv_csv_read_header(sv_csv *c);

/* Index of the header column called `name` (exact match), or -1. */
int sv_csv_column(const sv_csv *c, const char *name);

/* Next record: SV_CSV_ROW, SV_CSV_BAD (a field count other than the
 * header's counts as malformed once the header is read), SV_CSV_END, or
 * SIMVTP_ERR_NOMEM. */
int sv_csv_next(sv_csv *c);

#endif /* SV_CSV_H */
