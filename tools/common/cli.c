/* cli.c — see cli.h. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <simvtp/simvtp.h>

static const char *g_prog = "simvtp";
static char g_prefix[128] = "simvtp";
static volatile sig_atomic_t g_interrupted;

void tk_cli_init(const char *prog)
{
    g_prog = prog;
    snprintf(g_prefix, sizeof g_prefix, "%s", prog);
}
const char *tk_prog(void) { return g_prog; }
const char *tk_msg_prefix(void) { return g_prefix; }

void tk_cli_set_rank(int rank, int world)
{
    if (world > 1) snprintf(g_prefix, sizeof g_prefix, "%s (rank %d of %d)", g_prog, rank, world);
    else snprintf(g_prefix, sizeof g_prefix, "%s", g_prog);
}

int tk_bad_flag(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", g_prefix);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see %s --help)\n", g_prog);
    return TK_EXIT_USAGE;
}

int tk_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", g_prefix);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return TK_EXIT_RUN;
}

int tk_lib_fail(const char *what, int status)
{
    return tk_fail("%s failed: %s: %s", what, simvtp_strerror(status), simvtp_last_error());
}

int tk_parse_long(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < lo || x > hi)
        return tk_bad_flag("%s needs an integer in [%ld, %ld], not '%s'", flag, lo, hi, v);
    *out = x;
    return 0;
}

int tk_parse_u64(const char *flag, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    if (v[0] == '-') return tk_bad_flag("%s needs a non-negative integer, not '%s'", flag, v);
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || end == v || *end != '\0')
        return tk_bad_flag("%s needs a non-negative integer, not '%s'", flag, v);
    *out = (uint64_t)x;
    return 0;
}

int tk_parse_double(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end != '\0' || !isfinite(x) || x < lo || x > hi)
        return tk_bad_flag("%s needs a number in [%g, %g], not '%s'", flag, lo, hi, v);
    *out = x;
    return 0;
}

const char *tk_flag_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        tk_bad_flag("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

double tk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tk_format_duration(double s, char *buf, size_t n)
{
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

void tk_format_progress(int64_t done, int64_t total, double elapsed, const char *unit, char *buf,
                        size_t n)
{
    double rate = elapsed > 0 ? (double)done / elapsed : 0.0;
    char eta[32] = "?";
    if (rate > 0 && total >= done) tk_format_duration((double)(total - done) / rate, eta, sizeof eta);
    snprintf(buf, n, "%lld/%lld (%.1f%%), %.2f %s/s, ETA %s", (long long)done, (long long)total,
             total > 0 ? 100.0 * (double)done / (double)total : 100.0, rate, unit, eta);
}

int tk_ensure_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) == 0) return 0;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return tk_fail("cannot create the folder '%s': %s", dir,
                   errno == EEXIST ? "a file of that name exists" : strerror(errno));
}

int tk_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_shard_name(const char *n)
{
    size_t len = strlen(n), digits = 0;
    if (strncmp(n, "shard-", 6) != 0 || len < 6 + 6) return 0;
    while (n[6 + digits] >= '0' && n[6 + digits] <= '9') digits++;
    return digits >= 5 && !strcmp(n + 6 + digits, ".svtps");
}

static int by_number(const void *a, const void *b)
{
    const char *x = strrchr(*(const char *const *)a, '/'), *y = strrchr(*(const char *const *)b, '/');
    long u = strtol(x + 7, NULL, 10), v = strtol(y + 7, NULL, 10);
    return u < v ? -1 : u > v;
}

int tk_list_shards(const char *dir, char ***out)
{
    *out = NULL;
    DIR *dh = opendir(dir);
    if (!dh) {
        tk_fail("cannot open the folder %s: %s", dir, strerror(errno));
        return -1;
    }
    char **paths = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        if (!is_shard_name(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **q = realloc(paths, (size_t)cap * sizeof *q);
            if (!q) break;
            paths = q;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        paths[n] = malloc(len);
        if (!paths[n]) break;
        snprintf(paths[n++], len, "%s/%s", dir, de->d_name);
    }
    closedir(dh);
    if (n == 0) {
        free(paths);
        tk_fail("no shard-NNNNN.svtps files in %s (run simvtp-prep first)", dir);
        return -1;
    }
    qsort(paths, (size_t)n, sizeof *paths, by_number);
    *out = paths;
    return n;
}

void tk_free_list(char **l, int n)
{
    for (int i = 0; i < n; i++) free(l[i]);
    free(l);
}

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

void tk_install_interrupt(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int tk_interrupted(void) { return g_interrupted != 0; }

void tk_log_to_stderr(void *user, int level, const char *message)
{
    (void)user;
    fprintf(stderr, "%s: %s%s\n", g_prefix, level <= SIMVTP_LOG_WARN ? "warning: " : "", message);
}
