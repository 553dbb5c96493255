/* core/fileio.h — file helpers shared by every format: CRC-32, reading a
 * whole file, a bounds-checked little-endian reader, and atomic writes
 * (temporary file, fflush, fsync, rename). */
#ifndef SV_FILEIO_H
#define SV_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

uint32_t sv_crc32(uint32_t crc, const void *data, size_t n);

/* Payload arrays are stored as the host's fp32 bytes; files are defined as
 * little-endian, so big-endian hosts are refused (SIMVTP_ERR_UNSUPPORTED). */
int sv_require_little_endian(const char *path);

/* Read all of `path` into a malloc'd buffer. SIMVTP_ERR_IO on failure. */
int sv_read_file(const char *path, uint8_t **data, size_t *size);

/* Bounded cursor over a byte buffer: every read checks the remaining length
 * and fails with SIMVTP_ERR_TRUNCATED naming `what` and the file. */
typedef struct sv_reader {
    const uint8_t *p;
    size_t size, pos;
    const char *path;
} sv_reader;

int sv_read_bytes(sv_reader *r, void *dst, size_t n, const char *what);
int sv_read_u32(sv_reader *r, uint32_t *v, const char *what);
int sv_read_u64(sv_reader *r, uint64_t *v, const char *what);

/* Atomic writer: writes go to "<path>.tmp.<pid>"; commit flushes, fsyncs and
 * renames over `path`; abort removes the temporary file. */
typedef struct sv_writer {
    FILE *f;
    char *path, *tmp;
    int failed;
} sv_writer;

int sv_writer_open(sv_writer *w, const char *path);
void sv_write(sv_writer *w, const void *data, size_t n);
void sv_write_u32(sv_writer *w, uint32_t v);
void sv_write_u64(sv_writer *w, uint64_t v);
int sv_writer_commit(sv_writer *w);
void sv_writer_abort(sv_writer *w);

#endif /* SV_FILEIO_H */
