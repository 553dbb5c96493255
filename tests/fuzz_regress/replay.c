/* tests/fuzz_regress/replay.c — runs inputs through a libFuzzer harness in
 * the normal build (no libFuzzer, any compiler): linked with one
 * fuzz/fuzz_<name>.c, it calls LLVMFuzzerTestOneInput once per file named
 * on the command line or found in a folder named there (sorted, dot files
 * skipped; --if-exists lets the next path be missing). The meson tests
 * (suite fuzz-regress) replay fuzz/corpus/<name> (the seeds) and
 * tests/fuzz_regress/<name> (inputs that once crashed). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap) {
            uint8_t *q = realloc(buf, cap *= 2);
            if (!q) free(buf);
            buf = q;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return -1;
    }
    /* an exact-size copy, so that reads past the input are caught by ASan
     * builds as they are under libFuzzer */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) return -1;
    memcpy(exact, buf, n);
    free(buf);
    printf("replay %s (%zu bytes)\n", path, n);
    fflush(stdout);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char **q = realloc(names, (n + 1) * sizeof *names);
        if (!q) break;
        names = q;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(path) != 0) rc = -1;
            else (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s [--if-exists] FILE_OR_FOLDER...\n", argv[0]);
        return 2;
    }
    int rc = 0, count = 0, optional = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (!strcmp(argv[i], "--if-exists")) { /* the next path may be missing */
            optional = 1;
            continue;
        }
        int opt = optional;
        optional = 0;
        if (stat(argv[i], &st) != 0) {
            if (opt) continue;
            perror(argv[i]);
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (replay_dir(argv[i], &count) != 0) rc = 1;
        } else if (replay_file(argv[i]) != 0) {
            rc = 1;
        } else {
            count++;
        }
    }
    printf("%d inputs replayed without a crash\n", count);
    return rc;
}
