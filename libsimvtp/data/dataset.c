/* data/dataset.c — simvtp_dataset (include/simvtp/dataset.h): the WebVid
 * CSV, MSRVTT (json + split CSV) and plain-list readers and the accessors.
 * Ids, paths and captions live in one growing string arena addressed by
 * offset; each video owns a contiguous run of caption offsets.
 *
 * Choices the header leaves open: a caption of only white space counts as
 * empty; WebVid and MSRVTT need a video_root; MSRVTT TEST may pass
 * json_path = NULL (the split CSV alone), and with a json its rows must name
 * a video of "videos"; ids used in paths must be plain file names (no '/',
 * not "." or ".."), else the row is malformed. A plain list may name the
 * same video on several lines: its captions are gathered under one video,
 * in line order, at its first line's position; its id is the file name
 * without folder and extension. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simvtp/dataset.h"
#include "core/fileio.h"
#include "core/status_internal.h"
#include "data/csv.h"
#include "data/json.h"

#define WEBVID_CAPTION_MAX 350 /* bytes kept of a WebVid caption          */
#define MAX_LOGGED_ROWS 20     /* skipped rows logged one by one per file */
#define MSRVTT_JSON_DEPTH 16   /* MSRVTT_data.json nests 3 levels          */

typedef struct ds_video {
    size_t id, path; /* arena offsets      */
    size_t cap0;     /* first caption slot */
    int ncap;
} ds_video;

struct simvtp_dataset {
    char *arena;
    size_t arena_len, arena_cap;
    ds_video *videos;
    size_t n, videos_cap;
    size_t *caps; /* arena offsets of captions */
    size_t ncaps, caps_cap;
    int64_t skipped;
};

/* ------------------------------------------------------------------------ */
/* Building                                                                 */
/* ------------------------------------------------------------------------ */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return SIMVTP_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for a dataset (%zu items)", c);
    *p = q;
    *cap = c;
    return SIMVTP_OK;
}

/* Append s[0..n) to the string being built at the arena's end. */
static int str_cat(simvtp_dataset *d, const char *s, size_t n)
{
    SV_TRY(grow((void **)&d->arena, &d->arena_cap, d->arena_len + n + 1, 1));
    memcpy(d->arena + d->arena_len, s, n);
    d->arena_len += n;
    return SIMVTP_OK;
}

/* Terminate the string that began at `start`. */
static int str_end(simvtp_dataset *d, size_t start, size_t *off)
{
    SV_TRY(grow((void **)&d->arena, &d->arena_cap, d->arena_len + 1, 1));
    d->arena[d->arena_len++] = '\0';
    *off = start;
    return SIMVTP_OK;
}

static int str_put(simvtp_dataset *d, const char *s, size_t n, size_t *off)
{
    size_t start = d->arena_len;
    SV_TRY(str_cat(d, s, n));
    return str_end(d, start, off);
}

/* root "/" a [ "/" b ] suffix */
static int path_put(simvtp_dataset *d, const char *root, const char *a, const char *b,
                    const char *suffix, size_t *off)
{
    size_t start = d->arena_len;
    size_t rl = strlen(root);
    SV_TRY(str_cat(d, root, rl));
    if (rl && root[rl - 1] != '/') SV_TRY(str_cat(d, "/", 1));
    SV_TRY(str_cat(d, a, strlen(a)));
    if (b) {
        SV_TRY(str_cat(d, "/", 1));
        SV_TRY(str_cat(d, b, strlen(b)));
    }
    SV_TRY(str_cat(d, suffix, strlen(suffix)));
    return str_end(d, start, off);
}

static int caption_put(simvtp_dataset *d, const char *s, size_t n)
{
    size_t off;
    SV_TRY(str_put(d, s, n, &off));
    SV_TRY(grow((void **)&d->caps, &d->caps_cap, d->ncaps + 1, sizeof *d->caps));
    d->caps[d->ncaps++] = off;
    return SIMVTP_OK;
}

/* A video whose ncap captions were the last ones added. */
static int video_put(simvtp_dataset *d, size_t id, size_t path, int ncap, const char *file)
{
    if (d->n >= (size_t)INT32_MAX)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: more than %d videos", file, INT32_MAX);
    SV_TRY(grow((void **)&d->videos, &d->videos_cap, d->n + 1, sizeof *d->videos));
    ds_video *v = &d->videos[d->n++];
    v->id = id;
    v->path = path;
    v->cap0 = d->ncaps - (size_t)ncap;
    v->ncap = ncap;
    return SIMVTP_OK;
}

/* Skipped-row bookkeeping: each skip counts; the first few are logged. */
typedef struct skip_log {
    const char *file;
    int logged;
} skip_log;

static void skip_row(simvtp_dataset *d, skip_log *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void skip_row(simvtp_dataset *d, skip_log *s, const char *fmt, ...)
{
    d->skipped++;
    if (s->logged >= MAX_LOGGED_ROWS) return;
    s->logged++;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sv_log(SIMVTP_LOG_WARN, "%s: %s (row skipped)", s->file, msg);
}

static void skip_summary(const simvtp_dataset *d, const skip_log *s)
{
    if (d->skipped > MAX_LOGGED_ROWS)
        sv_log(SIMVTP_LOG_WARN, "%s: %lld malformed rows skipped in all (the first %d are logged)",
               s->file, (long long)d->skipped, MAX_LOGGED_ROWS);
}

/* A non-empty file-name component: no '/', no NUL, not "." or "..". */
static int plain_name(const char *s, size_t len)
{
    if (len == 0 || strlen(s) != len || memchr(s, '/', len)) return 0;
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

/* Longest prefix of s[0..len) of at most max bytes that ends on a UTF-8
 * character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80 && max - n < 3) n--;
    return n;
}

static simvtp_dataset *ds_new(void)
{
    return calloc(1, sizeof(simvtp_dataset));
}

void simvtp_dataset_free(simvtp_dataset *d)
{
    if (!d) return;
    free(d->arena);
    free(d->videos);
    free(d->caps);
    free(d);
}

/* Common ending of the readers: no usable row is a FORMAT error. */
static int ds_finish(simvtp_dataset *d, const char *file, int64_t dropped, simvtp_dataset **out)
{
    if (d->n == 0) {
        int rc = sv_fail(SIMVTP_ERR_FORMAT,
                         "%s: no usable rows (%lld malformed, %lld with empty captions)", file,
                         (long long)d->skipped, (long long)dropped);
        simvtp_dataset_free(d);
        return rc;
    }
    sv_log(SIMVTP_LOG_INFO, "%s: %zu videos, %zu captions, %lld malformed rows skipped", file, d->n,
           d->ncaps, (long long)d->skipped);
    *out = d;
    return SIMVTP_OK;
}

static int need_column(const sv_csv *c, const char *name, int *col)
{
    *col = sv_csv_column(c, name);
    if (*col < 0)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: line %lld: the header has no column \"%s\"", c->path,
                       (long long)c->line, name);
    return SIMVTP_OK;
}

/* ------------------------------------------------------------------------ */
/* String -> index map (open addressing); keys are offsets into a buffer    */
/* whose base may move (the arena), read through *base.                     */
/* ------------------------------------------------------------------------ */

typedef struct strkey {
    size_t off, len;
} strkey;

typedef struct strmap {
    int32_t *slots; /* index + 1; 0 = empty */
    size_t mask;
    char *const *base;
    const strkey *keys; /* per index */
} strmap;

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int map_init(strmap *m, size_t n, char *const *base, const strkey *keys)
{
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for an index of %zu ids", n);
    m->mask = cap - 1;
    m->base = base;
    m->keys = keys;
    return SIMVTP_OK;
}

/* Index of the key s[0..n), or -1; with insert >= 0, inserts it as that
 * index when absent (the map must have room: at most half full). */
static int32_t map_find(strmap *m, const char *s, size_t n, int32_t insert)
{
    size_t h = (size_t)hash_str(s, n) & m->mask;
    for (;; h = (h + 1) & m->mask) {
        int32_t e = m->slots[h];
        if (!e) {
            if (insert >= 0) m->slots[h] = insert + 1;
            return -1;
        }
        int32_t k = e - 1;
        if (m->keys[k].len == n && memcmp(*m->base + m->keys[k].off, s, n) == 0) return k;
    }
}

/* ------------------------------------------------------------------------ */
/* WebVid                                                                   */
/* ------------------------------------------------------------------------ */

static int read_webvid(simvtp_dataset *d, sv_csv *c, const char *root, int64_t *dropped)
{
    skip_log sl = {c->path, 0};
    int cid, cdir, cname;
    SV_TRY(sv_csv_read_header(c));
    SV_TRY(need_column(c, "videoid", &cid));
    SV_TRY(need_column(c, "page_dir", &cdir));
    SV_TRY(need_column(c, "name", &cname));
    for (;;) {
        int rc = sv_csv_next(c);
        if (rc < 0) return rc;
        if (rc == SV_CSV_END) break;
        if (rc == SV_CSV_BAD) {
            skip_row(d, &sl, "line %lld (row %lld): %s", (long long)c->line, (long long)c->row, c->err);
            continue;
        }
        const char *id = c->fields[cid], *dir = c->fields[cdir], *name = c->fields[cname];
        if (!plain_name(id, c->lens[cid])) {
            skip_row(d, &sl, "line %lld (row %lld): videoid \"%.40s\" is empty or not a plain file name",
                     (long long)c->line, (long long)c->row, id);
            continue;
        }
        if (!plain_name(dir, c->lens[cdir])) {
            skip_row(d, &sl, "line %lld (row %lld): page_dir \"%.40s\" is empty or not a plain folder name",
                     (long long)c->line, (long long)c->row, dir);
            continue;
        }
        if (blank(name, c->lens[cname])) {
            (*dropped)++;
            continue;
        }
        size_t id_off, path_off;
        SV_TRY(caption_put(d, name, utf8_cut(name, c->lens[cname], WEBVID_CAPTION_MAX)));
        SV_TRY(str_put(d, id, c->lens[cid], &id_off));
        SV_TRY(path_put(d, root, dir, id, ".mp4", &path_off));
        SV_TRY(video_put(d, id_off, path_off, 1, c->path));
    }
    skip_summary(d, &sl);
    if (*dropped)
        sv_log(SIMVTP_LOG_INFO, "%s: dropped %lld rows with empty captions", c->path, (long long)*dropped);
    return SIMVTP_OK;
}

int simvtp_dataset_open_webvid(const char *csv_path, const char *video_root, simvtp_dataset **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_dataset_open_webvid: out is NULL");
    *out = NULL;
    SV_CHECK_ARG(csv_path, "simvtp_dataset_open_webvid: csv_path is NULL");
    SV_CHECK_ARG(video_root && *video_root, "simvtp_dataset_open_webvid: video_root is NULL or empty");
    uint8_t *data;
    size_t size;
    SV_TRY(sv_read_file(csv_path, &data, &size));
    simvtp_dataset *d = ds_new();
    if (!d) {
        free(data);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory opening %s", csv_path);
    }
    sv_csv c;
    sv_csv_init(&c, data, size, csv_path);
    int64_t dropped = 0;
    int rc = read_webvid(d, &c, video_root, &dropped);
    sv_csv_free(&c);
    free(data);
    if (rc != SIMVTP_OK) {
        simvtp_dataset_free(d);
        return rc;
    }
    return ds_finish(d, csv_path, dropped, out);
}

/* ------------------------------------------------------------------------ */
/* MSRVTT                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct msrvtt_sentence {
    int32_t video;  /* index into the "videos" list */
    int64_t sen_id;
    size_t order;   /* position in "sentences" (ties)  */
    const char *caption;
    size_t len;
} msrvtt_sentence;

typedef struct msrvtt_index {
    sv_json_doc doc;
    size_t nvideos;
    strkey *ids;             /* video ids, offsets into doc.strings */
    strmap map;
    msrvtt_sentence *sent;   /* sorted by (video, sen_id, order) */
    size_t nsent;
    size_t *first, *count;   /* per video: its run in sent */
    int64_t bad;             /* malformed json entries */
} msrvtt_index;

static void msrvtt_index_free(msrvtt_index *x)
{
    sv_json_free(&x->doc);
    free(x->ids);
    free(x->map.slots);
    free(x->sent);
    free(x->first);
    free(x->count);
}

static int cmp_sentence(const void *a, const void *b)
{
    const msrvtt_sentence *x = a, *y = b;
    if (x->video != y->video) return x->video < y->video ? -1 : 1;
    if (x->sen_id != y->sen_id) return x->sen_id < y->sen_id ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static const sv_json *need_array(const sv_json *root, const char *key, const char *file)
{
    const sv_json *a = sv_json_member(root, key);
    if (!a || a->type != SV_JSON_ARRAY) {
        sv_fail(SIMVTP_ERR_FORMAT, "%s:%u:%u: the top-level object has no \"%s\" array", file,
                root->line, root->col, key);
        return NULL;
    }
    return a;
}

/* Parse MSRVTT_data.json: the "videos" ids (and with sentences != 0, every
 * sentence grouped by video in sen_id order). Malformed entries are skipped
 * and counted in d->skipped. */
static int msrvtt_index_build(msrvtt_index *x, const char *json_path, int sentences, simvtp_dataset *d)
{
    uint8_t *data;
    size_t size;
    SV_TRY(sv_read_file(json_path, &data, &size));
    int rc = sv_json_parse(data, size, json_path, MSRVTT_JSON_DEPTH, &x->doc);
    free(data);
    if (rc != SIMVTP_OK) return rc;
    const sv_json *root = x->doc.root;
    if (root->type != SV_JSON_OBJECT)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s:%u:%u: expected a JSON object at the top level", json_path,
                       root->line, root->col);
    const sv_json *videos = need_array(root, "videos", json_path);
    if (!videos) return SIMVTP_ERR_FORMAT;
    const sv_json *sents = NULL;
    if (sentences && !(sents = need_array(root, "sentences", json_path))) return SIMVTP_ERR_FORMAT;
    if (videos->u.kids.count >= (size_t)INT32_MAX)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: too many videos", json_path);

    skip_log sl = {json_path, 0};
    size_t nv = videos->u.kids.count;
    x->ids = malloc((nv ? nv : 1) * sizeof *x->ids);
    if (!x->ids) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory reading %s", json_path);
    SV_TRY(map_init(&x->map, nv, &x->doc.strings, x->ids));
    for (const sv_json *v = videos->u.kids.first; v; v = v->next) {
        const sv_json *id = sv_json_member(v, "video_id");
        if (!id || id->type != SV_JSON_STRING || id->u.str.len == 0) {
            skip_row(d, &sl, "%u:%u: a \"videos\" entry without a \"video_id\" string", v->line, v->col);
            continue;
        }
        int32_t k = (int32_t)x->nvideos;
        x->ids[k].off = (size_t)(id->u.str.s - x->doc.strings);
        x->ids[k].len = id->u.str.len;
        if (map_find(&x->map, id->u.str.s, id->u.str.len, k) >= 0) {
            skip_row(d, &sl, "%u:%u: video_id \"%.40s\" listed twice in \"videos\"", id->line, id->col,
                     id->u.str.s);
            continue;
        }
        x->nvideos++;
    }
    if (!sentences) {
        skip_summary(d, &sl);
        return SIMVTP_OK;
    }

    size_t ns = sents->u.kids.count;
    x->sent = malloc((ns ? ns : 1) * sizeof *x->sent);
    x->first = calloc(x->nvideos ? x->nvideos : 1, sizeof *x->first);
    x->count = calloc(x->nvideos ? x->nvideos : 1, sizeof *x->count);
    if (!x->sent || !x->first || !x->count)
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory for %zu sentences of %s", ns, json_path);
    size_t order = 0;
    for (const sv_json *s = sents->u.kids.first; s; s = s->next, order++) {
        const sv_json *vid = sv_json_member(s, "video_id");
        const sv_json *cap = sv_json_member(s, "caption");
        const sv_json *sid = sv_json_member(s, "sen_id");
        if (!vid || vid->type != SV_JSON_STRING || !cap || cap->type != SV_JSON_STRING || !sid ||
            sid->type != SV_JSON_NUMBER || !sid->is_int) {
            skip_row(d, &sl, "%u:%u: a \"sentences\" entry without a string video_id, a string caption "
                     "and an integer sen_id", s->line, s->col);
            continue;
        }
        int32_t k = map_find(&x->map, vid->u.str.s, vid->u.str.len, -1);
        if (k < 0) {
            skip_row(d, &sl, "%u:%u: sentence for video \"%.40s\", which \"videos\" does not list",
                     vid->line, vid->col, vid->u.str.s);
            continue;
        }
        if (blank(cap->u.str.s, cap->u.str.len)) {
            skip_row(d, &sl, "%u:%u: empty caption", cap->line, cap->col);
            continue;
        }
        msrvtt_sentence *e = &x->sent[x->nsent++];
        e->video = k;
        e->sen_id = sid->u.num.i;
        e->order = order;
        e->caption = cap->u.str.s;
        e->len = cap->u.str.len;
    }
    qsort(x->sent, x->nsent, sizeof *x->sent, cmp_sentence);
    for (size_t i = x->nsent; i-- > 0;) {
        x->first[x->sent[i].video] = i;
        x->count[x->sent[i].video]++;
    }
    skip_summary(d, &sl);
    return SIMVTP_OK;
}

static int read_msrvtt_split(simvtp_dataset *d, sv_csv *c, msrvtt_index *x, int have_json,
                             const char *root, int split)
{
    skip_log sl = {c->path, 0};
    int cid, csent = -1;
    SV_TRY(sv_csv_read_header(c));
    SV_TRY(need_column(c, "video_id", &cid));
    if (split == SIMVTP_MSRVTT_TEST) SV_TRY(need_column(c, "sentence", &csent));
    uint8_t *used = NULL;
    if (split == SIMVTP_MSRVTT_TRAIN) {
        used = calloc(x->nvideos ? x->nvideos : 1, 1);
        if (!used) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory reading %s", c->path);
    }
    int rc;
    for (;;) {
        rc = sv_csv_next(c);
        if (rc < 0) break;
        int what = rc;
        rc = SIMVTP_OK;
        if (what == SV_CSV_END) break;
        if (what == SV_CSV_BAD) {
            skip_row(d, &sl, "line %lld (row %lld): %s", (long long)c->line, (long long)c->row, c->err);
            continue;
        }
        const char *id = c->fields[cid];
        size_t idl = c->lens[cid];
        if (!plain_name(id, idl)) {
            skip_row(d, &sl, "line %lld (row %lld): video_id \"%.40s\" is empty or not a plain file name",
                     (long long)c->line, (long long)c->row, id);
            continue;
        }
        int32_t k = have_json ? map_find(&x->map, id, idl, -1) : 0;
        if (k < 0) {
            skip_row(d, &sl, "line %lld (row %lld): video \"%.40s\" is not in the json's \"videos\"",
                     (long long)c->line, (long long)c->row, id);
            continue;
        }
        int ncap;
        if (split == SIMVTP_MSRVTT_TEST) {
            if (blank(c->fields[csent], c->lens[csent])) {
                skip_row(d, &sl, "line %lld (row %lld): empty sentence", (long long)c->line,
                         (long long)c->row);
                continue;
            }
            if ((rc = caption_put(d, c->fields[csent], c->lens[csent])) != SIMVTP_OK) break;
            ncap = 1;
        } else {
            if (used[k]) {
                skip_row(d, &sl, "line %lld (row %lld): video \"%.40s\" listed twice", (long long)c->line,
                         (long long)c->row, id);
                continue;
            }
            if (x->count[k] == 0) {
                skip_row(d, &sl, "line %lld (row %lld): video \"%.40s\" has no sentences in the json",
                         (long long)c->line, (long long)c->row, id);
                continue;
            }
            if (x->count[k] > (size_t)INT32_MAX) {
                rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: too many captions for %s", c->path, id);
                break;
            }
            used[k] = 1;
            ncap = (int)x->count[k];
            for (size_t j = 0; j < x->count[k] && rc == SIMVTP_OK; j++) {
                const msrvtt_sentence *s = &x->sent[x->first[k] + j];
                rc = caption_put(d, s->caption, s->len);
            }
            if (rc != SIMVTP_OK) break;
        }
        size_t id_off, path_off;
        if ((rc = str_put(d, id, idl, &id_off)) != SIMVTP_OK) break;
        if ((rc = path_put(d, root, id, NULL, ".mp4", &path_off)) != SIMVTP_OK) break;
        if ((rc = video_put(d, id_off, path_off, ncap, c->path)) != SIMVTP_OK) break;
    }
    free(used);
    if (rc == SIMVTP_OK) skip_summary(d, &sl);
    return rc;
}

int simvtp_dataset_open_msrvtt(const char *json_path, const char *split_csv,
                               const char *video_root, int split, simvtp_dataset **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_dataset_open_msrvtt: out is NULL");
    *out = NULL;
    SV_CHECK_ARG(split == SIMVTP_MSRVTT_TRAIN || split == SIMVTP_MSRVTT_TEST,
                 "simvtp_dataset_open_msrvtt: split %d is neither SIMVTP_MSRVTT_TRAIN nor _TEST", split);
    SV_CHECK_ARG(json_path || split == SIMVTP_MSRVTT_TEST,
                 "simvtp_dataset_open_msrvtt: json_path is NULL (only the TEST split can do without it)");
    SV_CHECK_ARG(split_csv, "simvtp_dataset_open_msrvtt: split_csv is NULL");
    SV_CHECK_ARG(video_root && *video_root, "simvtp_dataset_open_msrvtt: video_root is NULL or empty");
    simvtp_dataset *d = ds_new();
    if (!d) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory opening %s", split_csv);
    msrvtt_index x;
    memset(&x, 0, sizeof x);
    uint8_t *data = NULL;
    size_t size;
    int rc = SIMVTP_OK;
    if (json_path) rc = msrvtt_index_build(&x, json_path, split == SIMVTP_MSRVTT_TRAIN, d);
    if (rc == SIMVTP_OK) rc = sv_read_file(split_csv, &data, &size);
    if (rc == SIMVTP_OK) {
        sv_csv c;
        sv_csv_init(&c, data, size, split_csv);
        rc = read_msrvtt_split(d, &c, &x, json_path != NULL, video_root, split);
        sv_csv_free(&c);
    }
    free(data);
    msrvtt_index_free(&x);
    if (rc != SIMVTP_OK) {
        simvtp_dataset_free(d);
        return rc;
    }
    return ds_finish(d, split_csv, 0, out);
}

/* ------------------------------------------------------------------------ */
/* Plain list                                                               */
/* ------------------------------------------------------------------------ */

typedef struct list_line {
    int32_t video;
    size_t caption;
} list_line;

typedef struct list_state {
    list_line *lines;
    size_t nlines, lines_cap;
    strkey *paths;   /* per video: its full path in the arena */
    size_t *id_off;  /* per video: its id in the arena        */
    size_t nv, paths_cap, ids_cap;
    strmap map;
} list_state;

static int list_grow_map(list_state *s, simvtp_dataset *d)
{
    size_t cap = s->map.slots ? (s->map.mask + 1) * 2 : 1024;
    free(s->map.slots);
    SV_TRY(map_init(&s->map, cap / 2, &d->arena, s->paths));
    for (size_t k = 0; k < s->nv; k++)
        map_find(&s->map, d->arena + s->paths[k].off, s->paths[k].len, (int32_t)k);
    return SIMVTP_OK;
}

/* One "path<TAB>caption" line (without its line end). */
static int list_add(list_state *s, simvtp_dataset *d, skip_log *sl, const char *root, int64_t lineno,
                    const char *line, size_t len)
{
    const char *tab = memchr(line, '\t', len);
    if (!tab) {
        skip_row(d, sl, "line %lld: no TAB between path and caption", (long long)lineno);
        return SIMVTP_OK;
    }
    size_t pl = (size_t)(tab - line);
    const char *cap = tab + 1;
    size_t cl = len - pl - 1;
    if (pl == 0 || memchr(line, '\0', pl) || line[pl - 1] == '/') {
        skip_row(d, sl, "line %lld: the path is empty or names a folder", (long long)lineno);
        return SIMVTP_OK;
    }
    if (blank(cap, cl)) {
        skip_row(d, sl, "line %lld: empty caption", (long long)lineno);
        return SIMVTP_OK;
    }
    /* full path at the arena's end; dropped again if the video is known */
    size_t start = d->arena_len, path_off;
    if (line[0] != '/' && root) {
        SV_TRY(str_cat(d, root, strlen(root)));
        if (root[0] && root[strlen(root) - 1] != '/') SV_TRY(str_cat(d, "/", 1));
    }
    SV_TRY(str_cat(d, line, pl));
    SV_TRY(str_end(d, start, &path_off));
    size_t full_len = d->arena_len - 1 - start;
    if (s->nv + 1 > (s->map.mask + 1) / 2 || !s->map.slots) SV_TRY(list_grow_map(s, d));
    if (s->nv >= (size_t)INT32_MAX)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: more than %d videos", sl->file, INT32_MAX);
    SV_TRY(grow((void **)&s->paths, &s->paths_cap, s->nv + 1, sizeof *s->paths));
    SV_TRY(grow((void **)&s->id_off, &s->ids_cap, s->nv + 1, sizeof *s->id_off));
    s->map.keys = s->paths;
    s->paths[s->nv].off = path_off;
    s->paths[s->nv].len = full_len;
    int32_t k = map_find(&s->map, d->arena + path_off, full_len, (int32_t)s->nv);
    if (k >= 0) {
        d->arena_len = start; /* known video: forget the copy */
    } else {
        k = (int32_t)s->nv++;
        /* id: the file name without folder and extension */
        const char *full = d->arena + path_off;
        const char *base = strrchr(full, '/');
        base = base ? base + 1 : full;
        const char *dot = strrchr(base, '.');
        size_t bl = dot && dot != base ? (size_t)(dot - base) : strlen(base);
        size_t boff = (size_t)(base - d->arena);
        size_t id_start = d->arena_len;
        SV_TRY(grow((void **)&d->arena, &d->arena_cap, d->arena_len + bl + 1, 1));
        memmove(d->arena + id_start, d->arena + boff, bl); /* the arena may have moved */
        d->arena_len += bl;
        SV_TRY(str_end(d, id_start, &s->id_off[k]));
    }
    size_t cap_off;
    SV_TRY(str_put(d, cap, cl, &cap_off));
    SV_TRY(grow((void **)&s->lines, &s->lines_cap, s->nlines + 1, sizeof *s->lines));
    s->lines[s->nlines].video = k;
    s->lines[s->nlines].caption = cap_off;
    s->nlines++;
    return SIMVTP_OK;
}

/* Group the captions of each video (line order kept), then the videos. */
static int list_finish(list_state *s, simvtp_dataset *d, const char *file)
{
    if (s->nv == 0) return SIMVTP_OK;
    size_t *count = calloc(s->nv, sizeof *count);
    if (!count) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory reading %s", file);
    for (size_t i = 0; i < s->nlines; i++) count[s->lines[i].video]++;
    int rc = grow((void **)&d->caps, &d->caps_cap, s->nlines, sizeof *d->caps);
    for (size_t k = 0; k < s->nv && rc == SIMVTP_OK; k++) {
        if (count[k] > (size_t)INT32_MAX) {
            rc = sv_fail(SIMVTP_ERR_FORMAT, "%s: too many captions for one video", file);
            break;
        }
        size_t cap0 = d->ncaps;
        d->ncaps += count[k];
        rc = video_put(d, s->id_off[k], s->paths[k].off, (int)count[k], file);
        count[k] = cap0; /* now the next free slot of video k */
    }
    if (rc == SIMVTP_OK)
        for (size_t i = 0; i < s->nlines; i++) d->caps[count[s->lines[i].video]++] = s->lines[i].caption;
    free(count);
    return rc;
}

static int read_list(simvtp_dataset *d, const uint8_t *data, size_t size, const char *file,
                     const char *root)
{
    list_state s;
    memset(&s, 0, sizeof s);
    skip_log sl = {file, 0};
    int rc = SIMVTP_OK;
    size_t pos = 0;
    if (size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) pos = 3;
    for (int64_t lineno = 1; pos < size && rc == SIMVTP_OK; lineno++) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        size_t len = end - pos;
        if (len && data[pos + len - 1] == '\r') len--;
        if (!blank((const char *)data + pos, len))
            rc = list_add(&s, d, &sl, root, lineno, (const char *)data + pos, len);
        pos = end + 1;
    }
    if (rc == SIMVTP_OK) rc = list_finish(&s, d, file);
    if (rc == SIMVTP_OK) skip_summary(d, &sl);
    free(s.lines);
    free(s.paths);
    free(s.id_off);
    free(s.map.slots);
    return rc;
}

int simvtp_dataset_open_list(const char *list_path, const char *video_root, simvtp_dataset **out)
{
    sv_clear_error();
    SV_CHECK_ARG(out, "simvtp_dataset_open_list: out is NULL");
    *out = NULL;
    SV_CHECK_ARG(list_path, "simvtp_dataset_open_list: list_path is NULL");
    uint8_t *data;
    size_t size;
    SV_TRY(sv_read_file(list_path, &data, &size));
    char *folder = NULL;
    if (!video_root) {
        const char *slash = strrchr(list_path, '/');
        if (slash) {
            size_t fl = slash == list_path ? 1 : (size_t)(slash - list_path);
            folder = malloc(fl + 1);
            if (!folder) {
                free(data);
                return sv_fail(SIMVTP_ERR_NOMEM, "out of memory opening %s", list_path);
            }
            memcpy(folder, list_path, fl);
            folder[fl] = '\0';
        }
        video_root = folder; /* NULL: paths relative to the working folder, as the list is */
    }
    simvtp_dataset *d = ds_new();
    int rc = d ? read_list(d, data, size, list_path, video_root)
               : sv_fail(SIMVTP_ERR_NOMEM, "out of memory opening %s", list_path);
    free(data);
    free(folder);
    if (rc != SIMVTP_OK) {
        simvtp_dataset_free(d);
        return rc;
    }
    return ds_finish(d, list_path, 0, out);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */
/* ------------------------------------------------------------------------ */

int simvtp_dataset_size(const simvtp_dataset *d)
{
    sv_clear_error();
    SV_CHECK_ARG(d, "simvtp_dataset_size: dataset is NULL");
    return (int)d->n;
}

int64_t simvtp_dataset_skipped(const simvtp_dataset *d)
{
    sv_clear_error();
    SV_CHECK_ARG(d, "simvtp_dataset_skipped: dataset is NULL");
    return d->skipped;
}

static const ds_video *video_at(const simvtp_dataset *d, int i, const char *fn)
{
    if (!d) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "%s: dataset is NULL", fn);
        return NULL;
    }
    if (i < 0 || (size_t)i >= d->n) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "%s: video %d out of range [0, %zu)", fn, i, d->n);
        return NULL;
    }
    return &d->videos[i];
}

const char *simvtp_dataset_video_id(const simvtp_dataset *d, int i)
{
    sv_clear_error();
    const ds_video *v = video_at(d, i, "simvtp_dataset_video_id");
    return v ? d->arena + v->id : NULL;
}

const char *simvtp_dataset_video_path(const simvtp_dataset *d, int i)
{
    sv_clear_error();
    const ds_video *v = video_at(d, i, "simvtp_dataset_video_path");
    return v ? d->arena + v->path : NULL;
}

int simvtp_dataset_num_captions(const simvtp_dataset *d, int i)
{
    sv_clear_error();
    const ds_video *v = video_at(d, i, "simvtp_dataset_num_captions");
    return v ? v->ncap : SIMVTP_ERR_INVALID_ARG;
}

const char *simvtp_dataset_caption(const simvtp_dataset *d, int i, int k)
{
    sv_clear_error();
    const ds_video *v = video_at(d, i, "simvtp_dataset_caption");
    if (!v) return NULL;
    if (k < 0 || k >= v->ncap) {
        sv_fail(SIMVTP_ERR_INVALID_ARG, "simvtp_dataset_caption: caption %d of video %d out of range [0, %d)",
                k, i, v->ncap);
        return NULL;
    }
    return d->arena + d->caps[v->cap0 + k];
}
