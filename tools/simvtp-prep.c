/* simvtp-prep — decode a video-caption dataset (WebVid CSV, MSRVTT json +
 * split CSV, or a "path<TAB>caption" list) into .svtps shards, through the
 * public libsimvtp API only; resumes an interrupted run. Also checks shards
 * (--check: open every shard, read every record) and smoke-tests the
 * dataloader over them (--loader: the shapes of two batches).
 *
 * Progress lines (done/total, videos/s, ETA) and warnings go to stderr, the
 * summary to stdout. Exit status: 0 done, 1 failed (or damaged shards found
 * by --check), 2 bad command line, 130 interrupted (completed shards kept). */
#include <simvtp/simvtp.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PROG "simvtp-prep"

typedef struct options {
    const char *webvid, *msrvtt, *split_csv, *split, *list, *videos, *out;
    const char *check, *loader, *vocab;
    long short_side, frame_step, max_frames, threads, records_per_shard, zstd_level;
    long frames, size, batch;
    int quiet;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --webvid CSV --videos DIR --out DIR [options]\n"
            "       " PROG " --msrvtt JSON --split-csv CSV --split train|test --videos DIR --out DIR [options]\n"
            "       " PROG " --list TSV [--videos DIR] --out DIR [options]\n"
            "       " PROG " --check DIR\n"
            "       " PROG " --loader DIR --vocab FILE [--frames T] [--size S] [--batch B]\n"
            "\n"
            "Decodes every video of a dataset once into zstd-compressed .svtps shards\n"
            "(DIR/shard-NNNNN.svtps): the video id, its captions and its frames resized so\n"
            "the short side is --short-side, every --frame-step-th frame. Running again\n"
            "with the same settings resumes: complete shards are kept.\n"
            "\n"
            "datasets:\n"
            "  --webvid CSV         WebVid results_2M_*.csv; videos at DIR/{page_dir}/{videoid}.mp4\n"
            "  --msrvtt JSON        MSRVTT_data.json, with --split-csv (MSRVTT_train.9k.csv or\n"
            "                       MSRVTT_JSFUSION_test.csv) and --split train|test\n"
            "  --list TSV           one \"path<TAB>caption\" per line (relative paths from --videos,\n"
            "                       else from the list's folder)\n"
            "  --videos DIR         the video folder (required for --webvid and --msrvtt)\n"
            "output and settings (library defaults in brackets):\n"
            "  --out DIR            shard folder (created if missing)\n"
            "  --short-side N       resize so the shorter side is N pixels [128]\n"
            "  --frame-step N       keep every N-th frame [1]\n"
            "  --max-frames N       keep at most N frames per video, 0 = all [0]\n"
            "  --records-per-shard N  videos per shard [1000]\n"
            "  --threads N          decoding threads, 0 = one per CPU [0]\n"
            "  --zstd-level N       compression level -7..19 [3]; negative levels (zstd's fast\n"
            "                       modes) store natural footage nearly raw but read 5-10x faster\n"
            "  --quiet              no progress lines\n"
            "checks:\n"
            "  --check DIR          open every shard of DIR and read every record\n"
            "  --loader DIR         build a dataloader over DIR's shards and print two batches'\n"
            "                       shapes; needs --vocab FILE (a BERT vocab.txt); --frames T [8],\n"
            "                       --size S [64] (clips T x S x S), --batch B [2]\n"
            "  --help, --version\n"
            "\n"
            "example: " PROG " --webvid results_2M_val.csv --videos videos --out shards/val \\\n"
            "             --short-side 256 --frame-step 2 --max-frames 64\n");
}

/* Returns 0 to run, -1 after --help/--version, else an exit status. */
static int parse_args(int argc, char **argv, options *o)
{
    static const struct {
        const char *flag;
        int kind; /* 0 string, 1 long */
        size_t offset;
        long lo, hi;
    } flags[] = {
        {"--webvid", 0, offsetof(options, webvid), 0, 0},
        {"--msrvtt", 0, offsetof(options, msrvtt), 0, 0},
        {"--split-csv", 0, offsetof(options, split_csv), 0, 0},
        {"--split", 0, offsetof(options, split), 0, 0},
        {"--list", 0, offsetof(options, list), 0, 0},
        {"--videos", 0, offsetof(options, videos), 0, 0},
        {"--out", 0, offsetof(options, out), 0, 0},
        {"--check", 0, offsetof(options, check), 0, 0},
        {"--loader", 0, offsetof(options, loader), 0, 0},
        {"--vocab", 0, offsetof(options, vocab), 0, 0},
        {"--short-side", 1, offsetof(options, short_side), 8, 16384},
        {"--frame-step", 1, offsetof(options, frame_step), 1, 10000},
        {"--max-frames", 1, offsetof(options, max_frames), 0, 65536},
        {"--threads", 1, offsetof(options, threads), 0, 256},
        {"--records-per-shard", 1, offsetof(options, records_per_shard), 1, 1000000},
        {"--zstd-level", 1, offsetof(options, zstd_level), -7, 19},
        {"--frames", 1, offsetof(options, frames), 1, 1024},
        {"--size", 1, offsetof(options, size), 1, 4096},
        {"--batch", 1, offsetof(options, batch), 1, 4096},
    };
    memset(o, 0, sizeof *o);
    o->short_side = o->frame_step = o->max_frames = o->threads = -1;
    o->records_per_shard = -1;
    o->zstd_level = -100; /* unset */
    o->frames = 8;
    o->size = 64;
    o->batch = 2;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        char flag[64];
        const char *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') return tk_bad_flag("unexpected argument '%s'", arg);
        if (eq) {
            size_t n = (size_t)(eq - arg);
            if (n >= sizeof flag) return tk_bad_flag("unknown option '%s'", arg);
            memcpy(flag, arg, n);
            flag[n] = '\0';
            val = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", arg);
        }
        if (!strcmp(flag, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(flag, "--version")) {
            printf(PROG " (libsimvtp %s)\n", simvtp_version_string());
            return -1;
        }
        if (!strcmp(flag, "--quiet")) {
            if (val) return tk_bad_flag("--quiet takes no value");
            o->quiet = 1;
            continue;
        }
        size_t k = 0;
        while (k < sizeof flags / sizeof flags[0] && strcmp(flags[k].flag, flag)) k++;
        if (k == sizeof flags / sizeof flags[0]) return tk_bad_flag("unknown option '%s'", flag);
        if (!val) {
            if (i + 1 >= argc) return tk_bad_flag("%s needs a value", flag);
            val = argv[++i];
        }
        if (!*val) return tk_bad_flag("%s needs a value", flag);
        char *field = (char *)o + flags[k].offset;
        if (flags[k].kind == 0) {
            memcpy(field, &val, sizeof val);
        } else {
            long x = 0;
            int rc = tk_parse_long(flag, val, flags[k].lo, flags[k].hi, &x);
            if (rc) return rc;
            memcpy(field, &x, sizeof x);
        }
    }
    int modes = (o->check != NULL) + (o->loader != NULL) + (o->webvid || o->msrvtt || o->list);
    if (modes == 0) return tk_bad_flag("nothing to do: give a dataset (--webvid, --msrvtt or --list), --check or --loader");
    if (modes > 1) return tk_bad_flag("give one of: a dataset, --check DIR, --loader DIR");
    if (o->check || o->loader) {
        if (o->loader && !o->vocab) return tk_bad_flag("--loader needs --vocab FILE");
        return 0;
    }
    if ((o->webvid != NULL) + (o->msrvtt != NULL) + (o->list != NULL) > 1)
        return tk_bad_flag("give one dataset: --webvid, --msrvtt or --list");
    if (!o->out) return tk_bad_flag("--out DIR is required");
    if ((o->webvid || o->msrvtt) && !o->videos) return tk_bad_flag("--videos DIR is required with %s",
                                                                o->webvid ? "--webvid" : "--msrvtt");
    if (o->msrvtt) {
        if (!o->split_csv) return tk_bad_flag("--msrvtt needs --split-csv CSV");
        if (!o->split || (strcmp(o->split, "train") && strcmp(o->split, "test")))
            return tk_bad_flag("--msrvtt needs --split train or --split test");
    } else if (o->split_csv || o->split) {
        return tk_bad_flag("--split-csv and --split go with --msrvtt");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Progress                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct progress_state {
    int quiet;
    int64_t first_done; /* items already done when this run started */
    double last_print;
} progress_state;

/* At most one line a second: this run's videos, rate and ETA (resumed ones
 * counted apart). Ctrl-C stops the prep (completed shards are kept). */
static int on_progress(void *user, int64_t done, int64_t total, double elapsed)
{
    progress_state *p = user;
    if (p->first_done < 0) p->first_done = done;
    if (tk_interrupted()) return 1;
    if (p->quiet || (done == p->first_done && done < total) ||
        (elapsed - p->last_print < 1.0 && done < total) || elapsed <= 0)
        return 0;
    p->last_print = elapsed;
    char line[160];
    tk_format_progress(done - p->first_done, total - p->first_done, elapsed, "videos", line, sizeof line);
    if (p->first_done > 0)
        fprintf(stderr, PROG ": %s (after %lld resumed)\n", line, (long long)p->first_done);
    else
        fprintf(stderr, PROG ": %s\n", line);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* prep                                                                     */
/* ------------------------------------------------------------------------ */

static int run_prep(const options *o)
{
    simvtp_dataset *d = NULL;
    int rc;
    if (o->webvid) rc = simvtp_dataset_open_webvid(o->webvid, o->videos, &d);
    else if (o->msrvtt)
        rc = simvtp_dataset_open_msrvtt(o->msrvtt, o->split_csv, o->videos,
                                        strcmp(o->split, "test") ? SIMVTP_MSRVTT_TRAIN : SIMVTP_MSRVTT_TEST, &d);
    else rc = simvtp_dataset_open_list(o->list, o->videos, &d);
    if (rc) return tk_lib_fail("reading the dataset", rc);
    if (simvtp_dataset_skipped(d) > 0)
        fprintf(stderr, PROG ": warning: %lld malformed dataset rows skipped\n",
                (long long)simvtp_dataset_skipped(d));

    simvtp_prep_params p;
    simvtp_prep_default_params(&p);
    if (o->short_side >= 0) p.short_side = (int)o->short_side;
    if (o->frame_step >= 0) p.frame_step = (int)o->frame_step;
    if (o->max_frames >= 0) p.max_frames = (int)o->max_frames;
    if (o->threads >= 0) p.threads = (int)o->threads;
    if (o->records_per_shard >= 0) p.records_per_shard = (int)o->records_per_shard;
    if (o->zstd_level != -100) p.zstd_level = (int)o->zstd_level;
    progress_state ps = {o->quiet, -1, -1.0};
    p.progress = on_progress;
    p.progress_user = &ps;

    tk_install_interrupt();
    double t0 = tk_now();
    simvtp_prep_report rep = {sizeof rep};
    rc = simvtp_prep_shards(d, o->out, &p, &rep);
    double dt = tk_now() - t0;
    /* read the detail before any other library call clears it */
    if (rc && rc != SIMVTP_ERR_ABORTED) {
        simvtp_dataset_free(d);
        return tk_lib_fail("prep", rc);
    }
    int total = simvtp_dataset_size(d);
    simvtp_dataset_free(d);
    if (rc == SIMVTP_ERR_ABORTED) {
        fprintf(stderr, PROG ": interrupted: %d complete shards kept in %s; run the same command to resume\n",
                rep.shards, o->out);
        return TK_EXIT_INTERRUPTED;
    }
    if (rc) return tk_lib_fail("prep", rc);
    printf("%s: %d videos: %lld records written, %lld resumed, %lld skipped; %d shards in %s "
           "(%.1f s, %.1f videos/s)\n",
           PROG, total, (long long)rep.written, (long long)rep.resumed, (long long)rep.failed, rep.shards,
           o->out, dt, dt > 0 ? (double)(rep.written + rep.failed) / dt : 0.0);
    if (rep.written + rep.resumed == 0) {
        return tk_fail("no video could be decoded (see the warnings above)");
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* --check, --loader                                                        */
/* ------------------------------------------------------------------------ */

static int run_check(const options *o)
{
    char **paths = NULL;
    int n = tk_list_shards(o->check, &paths);
    if (n <= 0) return TK_EXIT_RUN;
    long long records = 0, frames = 0, damaged = 0;
    int bad_shards = 0;
    for (int k = 0; k < n; k++) {
        simvtp_shard *s = NULL;
        int rc = simvtp_shard_open(paths[k], &s);
        if (rc) {
            fprintf(stderr, PROG ": %s: %s\n", simvtp_strerror(rc), simvtp_last_error());
            bad_shards++;
            continue;
        }
        int nr = simvtp_shard_num_records(s);
        long long sf = 0, sd = 0;
        int w = 0, h = 0, step = 0;
        for (int i = 0; i < nr; i++) {
            simvtp_record rec = {sizeof rec};
            rc = simvtp_shard_read(s, i, &rec);
            if (rc) {
                fprintf(stderr, PROG ": %s: %s\n", simvtp_strerror(rc), simvtp_last_error());
                sd++;
                continue;
            }
            sf += rec.frames;
            w = rec.width, h = rec.height, step = rec.frame_step;
        }
        if (!o->quiet)
            printf("%s: %d records, %lld frames, %lld damaged (last record %dx%d, frame step %d)\n",
                   paths[k], nr, sf, sd, w, h, step);
        records += nr;
        frames += sf;
        damaged += sd;
        simvtp_shard_close(s);
    }
    printf("%s: %d shards (%d unreadable), %lld records (%lld damaged), %lld frames\n", o->check, n,
           bad_shards, records, damaged, frames);
    tk_free_list(paths, n);
    return bad_shards || damaged ? TK_EXIT_RUN : 0;
}

static int run_loader(const options *o)
{
    char **paths = NULL;
    int n = tk_list_shards(o->loader, &paths);
    if (n <= 0) return TK_EXIT_RUN;
    simvtp_tokenizer *tok = NULL;
    int rc = simvtp_tokenizer_load(o->vocab, NULL, &tok);
    if (rc) {
        tk_free_list(paths, n);
        return tk_lib_fail("loading the vocabulary", rc);
    }
    simvtp_dataloader_params p;
    simvtp_dataloader_default_params(&p);
    p.shards = (const char *const *)paths;
    p.num_shards = n;
    p.tokenizer = tok;
    p.batch = (int)o->batch;
    p.frames = (int)o->frames;
    p.height = p.width = (int)o->size;
    p.max_text_len = 32;
    p.drop_last = 0;
    simvtp_dataloader *l = NULL;
    rc = simvtp_dataloader_create(&p, &l);
    if (rc) {
        simvtp_tokenizer_free(tok);
        tk_free_list(paths, n);
        return tk_lib_fail("creating the dataloader", rc);
    }
    printf("%s: %d shards, %lld samples per epoch, %lld batches of %d\n", o->loader, n,
           (long long)simvtp_dataloader_epoch_samples(l), (long long)simvtp_dataloader_epoch_batches(l),
           p.batch);
    int status = 0;
    for (int k = 0; k < 2 && !status; k++) {
        simvtp_batch b = {sizeof b};
        simvtp_batch_meta m = {sizeof m};
        rc = simvtp_dataloader_next(l, &b, &m);
        if (rc) {
            status = tk_lib_fail("reading a batch", rc);
            break;
        }
        printf("batch %d (epoch %lld): frames [%d, %d, %d, %d, 3] uint8, tokens [%d, %d], lengths", k,
               (long long)m.epoch, b.batch, p.frames, p.height, p.width, b.batch, b.max_len);
        for (int i = 0; i < b.batch; i++) printf(" %d", b.lengths[i]);
        printf(", videos");
        for (int i = 0; i < b.batch; i++) printf(" %s", m.video_ids[i]);
        printf("\n");
    }
    if (!status && simvtp_dataloader_skipped(l) > 0)
        printf("%lld damaged records skipped\n", (long long)simvtp_dataloader_skipped(l));
    simvtp_dataloader_free(l);
    simvtp_tokenizer_free(tok);
    tk_free_list(paths, n);
    return status;
}

int main(int argc, char **argv)
{
    options o;
    tk_cli_init(PROG);
    int rc = parse_args(argc, argv, &o);
    if (rc < 0) return 0;
    if (rc) return rc;
    simvtp_set_log_callback(tk_log_to_stderr, NULL, o.quiet ? SIMVTP_LOG_WARN : SIMVTP_LOG_INFO);
    if (o.check) return run_check(&o);
    if (o.loader) return run_loader(&o);
    return run_prep(&o);
}
