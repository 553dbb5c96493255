/* core/fileio.c — CRC-32, whole-file reads, bounded reads, atomic writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/status_internal.h"

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

uint32_t sv_crc32(uint32_t crc, const void *data, size_t n)
{
    if (!crc_ready) crc_init(); /* idempotent: a race writes identical values */
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

int sv_require_little_endian(const char *path)
{
    const uint16_t one = 1;
    if (*(const uint8_t *)&one == 1) return SIMVTP_OK;
    return sv_fail(SIMVTP_ERR_UNSUPPORTED, "%s: libsimvtp files are little-endian; this host is big-endian", path);
}

int sv_read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sv_fail(SIMVTP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (sv_require_little_endian(path)) { fclose(f); return SIMVTP_ERR_UNSUPPORTED; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sv_fail(SIMVTP_ERR_IO, "%s is not a regular file", path);
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return sv_fail(SIMVTP_ERR_IO, "cannot seek in %s", path);
    }
    long len = ftell(f);
    if (len < 0) {
        fclose(f);
        return sv_fail(SIMVTP_ERR_IO, "cannot size %s (not a regular file?)", path);
    }
    rewind(f);
    uint8_t *buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(f);
        return sv_fail(SIMVTP_ERR_NOMEM, "cannot allocate %ld bytes to read %s", len, path);
    }
    if (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return sv_fail(SIMVTP_ERR_IO, "read error in %s", path);
    }
    fclose(f);
    *data = buf;
    *size = (size_t)len;
    return SIMVTP_OK;
}

int sv_read_bytes(sv_reader *r, void *dst, size_t n, const char *what)
{
    if (n > r->size - r->pos)
        return sv_fail(SIMVTP_ERR_TRUNCATED,
                       "%s: file ends at byte %zu while reading %s (%zu bytes needed at %zu)",
                       r->path, r->size, what, n, r->pos);
    memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return SIMVTP_OK;
}

int sv_read_u32(sv_reader *r, uint32_t *v, const char *what)
{
    uint8_t b[4] = {0, 0, 0, 0};
    SV_TRY(sv_read_bytes(r, b, 4, what));
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return SIMVTP_OK;
}

int sv_read_u64(sv_reader *r, uint64_t *v, const char *what)
{
    uint32_t lo, hi;
    SV_TRY(sv_read_u32(r, &lo, what));
    SV_TRY(sv_read_u32(r, &hi, what));
    *v = (uint64_t)hi << 32 | lo;
    return SIMVTP_OK;
}

int sv_writer_open(sv_writer *w, const char *path)
{
    SV_TRY(sv_require_little_endian(path));
    memset(w, 0, sizeof *w);
    size_t n = strlen(path);
    w->path = malloc(n + 1);
    w->tmp = malloc(n + 32);
    if (!w->path || !w->tmp) {
        free(w->path);
        free(w->tmp);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory opening %s", path);
    }
    memcpy(w->path, path, n + 1);
    snprintf(w->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        int e = errno;
        free(w->path);
        free(w->tmp);
        return sv_fail(SIMVTP_ERR_IO, "cannot create %s.tmp.*: %s", path, strerror(e));
    }
    return SIMVTP_OK;
}

void sv_write(sv_writer *w, const void *data, size_t n)
{
    if (!w->failed && n && fwrite(data, 1, n, w->f) != n) w->failed = errno ? errno : EIO;
}

void sv_write_u32(sv_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    sv_write(w, b, 4);
}

void sv_write_u64(sv_writer *w, uint64_t v)
{
    sv_write_u32(w, (uint32_t)v);
    sv_write_u32(w, (uint32_t)(v >> 32));
}

static void writer_release(sv_writer *w)
{
    free(w->path);
    free(w->tmp);
    w->path = w->tmp = NULL;
    w->f = NULL;
}

void sv_writer_abort(sv_writer *w)
{
    if (w->f) fclose(w->f);
    if (w->tmp) remove(w->tmp);
    writer_release(w);
}

int sv_writer_commit(sv_writer *w)
{
    if (!w->failed && fflush(w->f) != 0) w->failed = errno ? errno : EIO;
    if (!w->failed && fsync(fileno(w->f)) != 0) w->failed = errno ? errno : EIO;
    if (fclose(w->f) != 0 && !w->failed) w->failed = errno ? errno : EIO;
    w->f = NULL;
    if (w->failed) {
        int e = w->failed;
        remove(w->tmp);
        char msg[64];
        snprintf(msg, sizeof msg, "%s", strerror(e));
        int rc = sv_fail(SIMVTP_ERR_IO, "writing %s failed: %s (the previous file is untouched)",
                         w->path, msg);
        writer_release(w);
        return rc;
    }
    if (rename(w->tmp, w->path) != 0) {
        int e = errno;
        remove(w->tmp);
        int rc = sv_fail(SIMVTP_ERR_IO, "cannot rename into %s: %s", w->path, strerror(e));
        writer_release(w);
        return rc;
    }
    /* Make the rename itself durable: fsync the containing directory. */
    char *slash = strrchr(w->path, '/');
    char dir[4096];
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - w->path), w->path);
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    writer_release(w);
    return SIMVTP_OK;
}
