/* png_write.c — tk_canvas to PNG with libpng: temp file + fsync + rename,
 * libpng errors and warnings captured instead of printed. */
#include "png_write.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    jmp_buf jmp;
    char msg[128];
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "libpng: %s", msg);
    longjmp(ctx->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static int fail(char *err, size_t err_len, int e, const char *path, const char *what)
{
    if (err && err_len)
        snprintf(err, err_len, "%s: %s", path, what ? what : strerror(e));
    errno = e;
    return -1;
}

/* Encode c into the open file f; 0, or -1 with ctx->msg (libpng) or errno (I/O). */
static int encode(const tk_canvas *c, FILE *f, png_ctx *ctx)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(ctx->msg, sizeof ctx->msg, "libpng: out of memory");
        return -1;
    }
    if (setjmp(ctx->jmp)) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++)
        png_write_row(png, c->px + (size_t)y * (size_t)c->w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* Create path.tmp.<pid>.<n> exclusively, mode 0666 less the umask (as the final file). */
static int open_temp(const char *path, char *tmp, size_t n)
{
    static atomic_uint counter;
    for (int tries = 0; tries < 100; tries++) {
        snprintf(tmp, n, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

int tk_png_write(const tk_canvas *c, const char *path, char *err, size_t err_len)
{
    if (!c || !c->px || c->w < 1 || c->h < 1 || !path || !*path)
        return fail(err, err_len, EINVAL, path ? path : "(null)", NULL);
    size_t n = strlen(path) + 48;
    char *tmp = malloc(n);
    if (!tmp)
        return fail(err, err_len, ENOMEM, path, NULL);
    int fd = open_temp(path, tmp, n);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return fail(err, err_len, e, path, NULL);
    }
    png_ctx ctx = {.msg = ""};
    errno = 0;
    int rc = encode(c, f, &ctx), e = errno;
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = -1, e = errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -1, e = errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1, e = errno;
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    if (rc != 0) /* an I/O failure inside libpng leaves errno set: prefer it to "Write Error" */
        return fail(err, err_len, e ? e : EIO, path, e || !ctx.msg[0] ? NULL : ctx.msg);
    return 0;
}
