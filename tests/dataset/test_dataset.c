/* test_dataset.c — the dataset suite: the CSV and JSON parsers (white box,
 * through data/csv.h and data/json.h), the WebVid, MSRVTT and plain-list
 * readers through the public API (edge cases, malformed rows skipped and
 * counted, errors naming the file), and an end-to-end run of
 * simvtp-sample-data (path in $SIMVTP_SAMPLE_DATA; skipped without it) whose
 * output all three readers must open, checked against its truth.tsv.
 *
 * Scratch files go to a fresh folder under $TMPDIR (or /tmp), removed at
 * the end. */
#include <simvtp/simvtp.h>

#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/csv.h"
#include "data/json.h"

static char g_tmp[PATH_MAX];

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* snprintf into an array, failing the test if it does not fit. */
#define FMT(buf, ...) \
    ck_assert_msg(snprintf((buf), sizeof(buf), __VA_ARGS__) < (int)sizeof(buf), "%s is too long", #buf)

static void tmp_path(char *out, size_t n, const char *name)
{
    int len = snprintf(out, n, "%s/%s", g_tmp, name);
    ck_assert_msg(len > 0 && (size_t)len < n, "path too long");
}

static void write_text(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    if (n) ck_assert_uint_eq(fwrite(text, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* Write `text` to g_tmp/name; the full path goes to out. */
static void put(char *out, size_t n, const char *name, const char *text)
{
    tmp_path(out, n, name);
    write_text(out, text, strlen(text));
}

static void expect_status(int rc, int want, const char *what)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%.1000s", simvtp_last_error());
    ck_assert_msg(rc == want, "%s returned %s, expected %s; detail: \"%s\"", what, simvtp_strerror(rc),
                  simvtp_strerror(want), detail);
    if (want != SIMVTP_OK) ck_assert_msg(detail[0], "%s failed without a detail message", what);
}
#define EXPECT(call, want) expect_status((call), (want), #call)

static void expect_detail(const char *needle)
{
    const char *d = simvtp_last_error();
    ck_assert_msg(strstr(d, needle) != NULL, "the detail \"%s\" does not mention \"%s\"", d, needle);
}

/* Log lines captured from the library. */
static char g_log[8192];
static int g_log_lines;

static void capture_log(void *user, int level, const char *msg)
{
    (void)user;
    size_t n = strlen(g_log);
    snprintf(g_log + n, sizeof g_log - n, "[%d] %s\n", level, msg);
    g_log_lines++;
}

static void log_start(void)
{
    g_log[0] = '\0';
    g_log_lines = 0;
    simvtp_set_log_callback(capture_log, NULL, SIMVTP_LOG_INFO);
}

static void log_stop(void) { simvtp_set_log_callback(NULL, NULL, 0); }

/* ------------------------------------------------------------------------ */
/* CSV                                                                      */
/* ------------------------------------------------------------------------ */

static sv_csv g_csv;

static void csv_open(const char *text)
{
    sv_csv_init(&g_csv, (const uint8_t *)text, strlen(text), "t.csv");
    ck_assert_int_eq(sv_csv_read_header(&g_csv), SIMVTP_OK);
}

/* Next record must be a row with exactly the given fields (NULL-terminated). */
static void csv_expect_row(const char *const *want)
{
    int rc = sv_csv_next(&g_csv);
    ck_assert_msg(rc == SV_CSV_ROW, "expected a row, got %d (%s)", rc, g_csv.err);
    int n = 0;
    while (want[n]) n++;
    ck_assert_int_eq(g_csv.nfields, n);
    for (int k = 0; k < n; k++) {
        ck_assert_str_eq(g_csv.fields[k], want[k]);
        ck_assert_uint_eq(g_csv.lens[k], strlen(want[k]));
    }
}
#define ROW(...) csv_expect_row((const char *const[]){__VA_ARGS__, NULL})

START_TEST(csv_quoting)
{
    csv_open("a,b,c\n"
             "1,\"x, y\",\"he said \"\"hi\"\"\"\n"
             "\"\",\"\"\"\",plain\n");
    ck_assert_int_eq(g_csv.ncols, 3);
    ROW("1", "x, y", "he said \"hi\"");
    ROW("", "\"", "plain");
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_END);
    sv_csv_free(&g_csv);
}
END_TEST

START_TEST(csv_newlines_inside_quotes)
{
    csv_open("id,text\n"
             "1,\"first line\nsecond line\r\nthird\"\n"
             "2,after\n");
    ROW("1", "first line\nsecond line\r\nthird");
    ck_assert_int_eq(g_csv.line, 2);
    ROW("2", "after");
    ck_assert_int_eq(g_csv.line, 5);
    ck_assert_int_eq(g_csv.row, 2);
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_END);
    sv_csv_free(&g_csv);
}
END_TEST

START_TEST(csv_crlf_bom_blank_lines_no_final_newline)
{
    csv_open("\xEF\xBB\xBF" "a,b\r\n1,2\r\n\r\n\n3,\"4\"\r\n5,6");
    ck_assert_int_eq(sv_csv_column(&g_csv, "a"), 0);
    ck_assert_int_eq(sv_csv_column(&g_csv, "b"), 1);
    ck_assert_int_eq(sv_csv_column(&g_csv, "c"), -1);
    ROW("1", "2");
    ROW("3", "4");
    ck_assert_int_eq(g_csv.line, 5);
    ROW("5", "6");
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_END);
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_END);
    sv_csv_free(&g_csv);
}
END_TEST

START_TEST(csv_empty_fields)
{
    csv_open("a,b,c\n,,\n1,,3\n\"\",\" \",\n,x,");
    ROW("", "", "");
    ROW("1", "", "3");
    ROW("", " ", "");
    ROW("", "x", "");
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_END);
    sv_csv_free(&g_csv);
}
END_TEST

START_TEST(csv_malformed_rows_resync)
{
    csv_open("a,b\n"
             "1,2,3\n"             /* line 2: too many fields */
             "4\n"                 /* line 3: too few */
             "5,\"ab\"c\n"         /* line 4: text after the closing quote */
             "6,ok\n"
             "9,\"x\ny\"\n"
             "7,\"never closed\n"  /* line 8: unterminated quote */
             "8,fine\n");
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_BAD);
    ck_assert_int_eq(g_csv.line, 2);
    ck_assert_ptr_nonnull(strstr(g_csv.err, "3 fields"));
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_BAD);
    ck_assert_int_eq(g_csv.line, 3);
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_BAD);
    ck_assert_int_eq(g_csv.line, 4);
    ck_assert_ptr_nonnull(strstr(g_csv.err, "closing quote"));
    ROW("6", "ok");
    ROW("9", "x\ny");
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_BAD);
    ck_assert_int_eq(g_csv.line, 8);
    ck_assert_int_eq(g_csv.row, 6);
    ck_assert_ptr_nonnull(strstr(g_csv.err, "unterminated"));
    ROW("8", "fine");
    ck_assert_int_eq(g_csv.line, 9);
    ck_assert_int_eq(sv_csv_next(&g_csv), SV_CSV_END);
    sv_csv_free(&g_csv);
}
END_TEST

START_TEST(csv_header_errors)
{
    sv_csv_init(&g_csv, (const uint8_t *)"", 0, "empty.csv");
    EXPECT(sv_csv_read_header(&g_csv), SIMVTP_ERR_FORMAT);
    expect_detail("empty.csv");
    sv_csv_free(&g_csv);
    const char *bad = "\"a,b\n1,2\n";
    sv_csv_init(&g_csv, (const uint8_t *)bad, strlen(bad), "bad.csv");
    EXPECT(sv_csv_read_header(&g_csv), SIMVTP_ERR_FORMAT);
    expect_detail("bad.csv");
    sv_csv_free(&g_csv);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */
/* ------------------------------------------------------------------------ */

static int json_parse_str(const char *text, sv_json_doc *doc, int depth)
{
    return sv_json_parse((const uint8_t *)text, strlen(text), "t.json", depth, doc);
}

START_TEST(json_values_and_nesting)
{
    sv_json_doc doc;
    const char *text = " {\"a\": [1, -2, 3.5, -0.25e2, 1E3, 12345678901234567890, true, false, null],\n"
                       "  \"o\": {\"x\": {\"y\": []}, \"e\": {}}, \"s\": \"\", \"a\": 0 } \n";
    EXPECT(json_parse_str(text, &doc, 0), SIMVTP_OK);
    const sv_json *root = doc.root;
    ck_assert_int_eq(root->type, SV_JSON_OBJECT);
    ck_assert_uint_eq(root->u.kids.count, 4);
    const sv_json *a = sv_json_member(root, "a"); /* the first of two "a" */
    ck_assert_int_eq(a->type, SV_JSON_ARRAY);
    ck_assert_uint_eq(a->u.kids.count, 9);
    const sv_json *v = a->u.kids.first;
    ck_assert(v->is_int && v->u.num.i == 1);
    v = v->next;
    ck_assert(v->is_int && v->u.num.i == -2);
    v = v->next;
    ck_assert(!v->is_int && v->u.num.d == 3.5);
    v = v->next;
    ck_assert(!v->is_int && v->u.num.d == -25.0);
    v = v->next;
    ck_assert(!v->is_int && v->u.num.d == 1000.0);
    v = v->next;
    ck_assert(!v->is_int && v->u.num.d > 1.2345e19 && v->u.num.d < 1.2346e19);
    v = v->next;
    ck_assert_int_eq(v->type, SV_JSON_TRUE);
    ck_assert_int_eq(v->next->type, SV_JSON_FALSE);
    ck_assert_int_eq(v->next->next->type, SV_JSON_NULL);
    ck_assert_ptr_null(v->next->next->next);
    const sv_json *y = sv_json_member(sv_json_member(sv_json_member(root, "o"), "x"), "y");
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->type, SV_JSON_ARRAY);
    ck_assert_uint_eq(y->u.kids.count, 0);
    ck_assert_int_eq(y->line, 2);
    ck_assert_int_eq(y->col, 20);
    ck_assert_uint_eq(sv_json_member(sv_json_member(root, "o"), "e")->u.kids.count, 0);
    ck_assert_uint_eq(sv_json_member(root, "s")->u.str.len, 0);
    ck_assert_ptr_null(sv_json_member(root, "missing"));
    ck_assert_ptr_null(sv_json_member(a, "x"));
    sv_json_free(&doc);
    sv_json_free(&doc); /* twice is fine */
    EXPECT(json_parse_str("-0", &doc, 0), SIMVTP_OK);
    ck_assert(doc.root->is_int && doc.root->u.num.i == 0);
    sv_json_free(&doc);
    EXPECT(json_parse_str("-9223372036854775808", &doc, 0), SIMVTP_OK);
    ck_assert(doc.root->is_int && doc.root->u.num.i == INT64_MIN);
    sv_json_free(&doc);
}
END_TEST

START_TEST(json_string_escapes)
{
    sv_json_doc doc;
    EXPECT(json_parse_str("[\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\", \"caf\\u00e9 \\u20AC\", "
                          "\"\\ud83d\\ude00!\", \"raw \xC3\xA9 \xF0\x9F\x98\x80\", \"nul\\u0000x\"]",
                          &doc, 0),
           SIMVTP_OK);
    const sv_json *s = doc.root->u.kids.first;
    ck_assert_str_eq(s->u.str.s, "q\" b\\ s/ \b\f\n\r\t");
    s = s->next;
    ck_assert_str_eq(s->u.str.s, "caf\xC3\xA9 \xE2\x82\xAC");
    s = s->next;
    ck_assert_str_eq(s->u.str.s, "\xF0\x9F\x98\x80!");
    ck_assert_uint_eq(s->u.str.len, 5);
    s = s->next;
    ck_assert_str_eq(s->u.str.s, "raw \xC3\xA9 \xF0\x9F\x98\x80");
    s = s->next;
    ck_assert_uint_eq(s->u.str.len, 5);
    ck_assert(memcmp(s->u.str.s, "nul\0x", 5) == 0);
    sv_json_free(&doc);
}
END_TEST

/* Each malformed input must fail with FORMAT and "t.json:LINE:COL:". */
START_TEST(json_malformed_line_col)
{
    static const struct { const char *text, *where, *what; } cases[] = {
        {"{\n  \"a\": 1,\n  \"b\" 2\n}", "t.json:3:7:", "':'"},
        {"{\"a\": 1,}", "t.json:1:9:", "member name"},
        {"[1, 2,]", "t.json:1:7:", "a value"},
        {"[1 2]", "t.json:1:4:", "','"},
        {"[01]", "t.json:1:2:", "leading zero"},
        {"[1.]", "t.json:1:4:", "'.'"},
        {"[-]", "t.json:1:3:", "'-'"},
        {"[tru]", "t.json:1:2:", "true"},
        {"{\"a\": 1} x", "t.json:1:10:", "after the JSON value"},
        {"\"\\ud83d\"", "t.json:1:2:", "surrogate"},
        {"\"\\ud83d\\u0041\"", "t.json:1:2:", "surrogate"},
        {"\"\\ude00\"", "t.json:1:2:", "low surrogate"},
        {"\"\\x\"", "t.json:1:2:", "escape"},
        {"\"\\u12G4\"", "t.json:1:2:", "hex"},
        {"[\"a\tb\"]", "t.json:1:4:", "control character"},
        {"\n\n  \"bad \xC3\x28\"", "t.json:3:8:", "UTF-8"},
        {"\"overlong \xC0\xAF\"", "t.json:1:11:", "UTF-8"},
        {"\"surrogate \xED\xA0\x80\"", "t.json:1:12:", "UTF-8"},
        {"", "t.json:1:1:", "end of input"},
        {"   \n ", "t.json:2:2:", "end of input"},
        {"'single'", "t.json:1:1:", "a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sv_json_doc doc;
        int rc = json_parse_str(cases[i].text, &doc, 0);
        ck_assert_msg(rc == SIMVTP_ERR_FORMAT, "case %zu: %s", i, simvtp_strerror(rc));
        ck_assert_ptr_null(doc.root);
        const char *d = simvtp_last_error();
        ck_assert_msg(strstr(d, cases[i].where) && strstr(d, cases[i].what),
                      "case %zu: \"%s\" lacks \"%s\" / \"%s\"", i, d, cases[i].where, cases[i].what);
        sv_json_free(&doc);
    }
}
END_TEST

START_TEST(json_truncated)
{
    const char *full = "{\"videos\": [{\"video_id\": \"video0\"}], \"sentences\": [{\"caption\": \"a \\u00e9\", "
                       "\"sen_id\": 12}]}";
    size_t n = strlen(full);
    sv_json_doc doc;
    ck_assert_int_eq(sv_json_parse((const uint8_t *)full, n, "t.json", 0, &doc), SIMVTP_OK);
    sv_json_free(&doc);
    for (size_t cut = 0; cut < n; cut++) {
        int rc = sv_json_parse((const uint8_t *)full, cut, "t.json", 0, &doc);
        ck_assert_msg(rc == SIMVTP_ERR_FORMAT, "cut at %zu parsed", cut);
        ck_assert_ptr_nonnull(strstr(simvtp_last_error(), "t.json:1:"));
    }
}
END_TEST

START_TEST(json_depth_bomb)
{
    size_t n = 200000;
    char *bomb = malloc(2 * n + 1);
    ck_assert_ptr_nonnull(bomb);
    memset(bomb, '[', n);
    memset(bomb + n, ']', n);
    bomb[2 * n] = '\0';
    sv_json_doc doc;
    EXPECT(json_parse_str(bomb, &doc, 0), SIMVTP_ERR_FORMAT);
    expect_detail("nesting deeper than 64");
    expect_detail("t.json:1:65:");
    /* exactly at the limit is fine */
    bomb[8] = '\0';
    memset(bomb, '[', 4);
    memset(bomb + 4, ']', 4);
    EXPECT(json_parse_str(bomb, &doc, 4), SIMVTP_OK);
    sv_json_free(&doc);
    EXPECT(json_parse_str("[[[[[]]]]]", &doc, 4), SIMVTP_ERR_FORMAT);
    for (size_t i = 0; i + 5 <= n; i += 5) memcpy(bomb + i, "{\"a\":", 5);
    bomb[n] = '\0';
    EXPECT(json_parse_str(bomb, &doc, 0), SIMVTP_ERR_FORMAT);
    expect_detail("nesting deeper than 64");
    free(bomb);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* WebVid                                                                   */
/* ------------------------------------------------------------------------ */

#define WEBVID_HEADER "videoid,contentUrl,duration,page_dir,name\n"

START_TEST(webvid_basic)
{
    char csv[PATH_MAX];
    put(csv, sizeof csv, "wv.csv",
        WEBVID_HEADER
        "21179416,https://x/1.mp4,PT00H00M11S,006001_006050,Aerial shot winter forest\n"
        "5629184,https://x/2.mp4,PT00H00M29S,006001_006050,\"Red fox, in the \"\"snow\"\", close-up\"\n"
        "1063125109,https://x/3.mp4,PT00H00M20S,1042001_1042050,\"Two lines\nof caption\"\r\n"
        "77,https://x/4.mp4,PT00H00M05S,000001_000050,no final newline");
    simvtp_dataset *d = NULL;
    EXPECT(simvtp_dataset_open_webvid(csv, "/data/webvid/videos/", &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 4);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 0);
    ck_assert_str_eq(simvtp_dataset_video_id(d, 0), "21179416");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 0), "/data/webvid/videos/006001_006050/21179416.mp4");
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 0), 1);
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 0), "Aerial shot winter forest");
    ck_assert_str_eq(simvtp_dataset_caption(d, 1, 0), "Red fox, in the \"snow\", close-up");
    ck_assert_str_eq(simvtp_dataset_caption(d, 2, 0), "Two lines\nof caption");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 2), "/data/webvid/videos/1042001_1042050/1063125109.mp4");
    ck_assert_str_eq(simvtp_dataset_caption(d, 3, 0), "no final newline");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 3), "/data/webvid/videos/000001_000050/77.mp4");
    simvtp_dataset_free(d);
    /* a root without the trailing slash gives the same paths */
    EXPECT(simvtp_dataset_open_webvid(csv, "rel/videos", &d), SIMVTP_OK);
    ck_assert_str_eq(simvtp_dataset_video_path(d, 0), "rel/videos/006001_006050/21179416.mp4");
    simvtp_dataset_free(d);
}
END_TEST

START_TEST(webvid_columns_in_another_order)
{
    char csv[PATH_MAX];
    put(csv, sizeof csv, "wv_order.csv",
        "name,page_dir,extra,videoid\r\n"
        "\"A cat, sleeping\",p1,,42\r\n"
        "A dog,p2,\"z\",43\r\n");
    simvtp_dataset *d = NULL;
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 2);
    ck_assert_str_eq(simvtp_dataset_video_id(d, 0), "42");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 0), "/v/p1/42.mp4");
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 0), "A cat, sleeping");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 1), "/v/p2/43.mp4");
    simvtp_dataset_free(d);
}
END_TEST

/* Caption of `pre` ASCII bytes, then `ch`, then a tail. */
static size_t cut_caption_len(const char *ch)
{
    static char text[4096];
    char caption[1024], csv[PATH_MAX];
    size_t pre = 350 - (strlen(ch) > 1 ? strlen(ch) - 1 : 0);
    if (strlen(ch) == 4) pre = 348; /* the emoji spans bytes 348..351 */
    memset(caption, 'x', pre);
    snprintf(caption + pre, sizeof caption - pre, "%s tail that goes past the limit", ch);
    FMT(text, WEBVID_HEADER "1,u,d,p,%s\n", caption);
    put(csv, sizeof csv, "wv_cut.csv", text);
    simvtp_dataset *d = NULL;
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_OK);
    const char *c = simvtp_dataset_caption(d, 0, 0);
    size_t n = strlen(c);
    ck_assert(n <= 350);
    ck_assert(memcmp(c, caption, n) == 0);
    simvtp_dataset_free(d);
    return n;
}

START_TEST(webvid_caption_cut_utf8)
{
    ck_assert_uint_eq(cut_caption_len("y"), 350);            /* ASCII: exactly 350 bytes */
    ck_assert_uint_eq(cut_caption_len("\xC3\xA9"), 349);     /* é at bytes 349..350      */
    ck_assert_uint_eq(cut_caption_len("\xE2\x82\xAC"), 348); /* € at bytes 348..350      */
    ck_assert_uint_eq(cut_caption_len("\xF0\x9F\x98\x80"), 348); /* emoji at 348..351 */
    /* a short caption is untouched, a 350-byte one too */
    char text[1024], csv[PATH_MAX], cap[351];
    memset(cap, 'q', 350);
    cap[350] = '\0';
    FMT(text, WEBVID_HEADER "1,u,d,p,%s\n2,u,d,p,\xC3\xA9t\xC3\xA9\n", cap);
    put(csv, sizeof csv, "wv_cut2.csv", text);
    simvtp_dataset *d = NULL;
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_OK);
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 0), cap);
    ck_assert_str_eq(simvtp_dataset_caption(d, 1, 0), "\xC3\xA9t\xC3\xA9");
    simvtp_dataset_free(d);
}
END_TEST

START_TEST(webvid_empty_captions_dropped)
{
    char csv[PATH_MAX];
    put(csv, sizeof csv, "wv_empty.csv",
        WEBVID_HEADER
        "1,u,d,p,\n"
        "2,u,d,p,\"\"\n"
        "3,u,d,p,kept\n"
        "4,u,d,p,\"   \"\n");
    simvtp_dataset *d = NULL;
    log_start();
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_OK);
    log_stop();
    ck_assert_int_eq(simvtp_dataset_size(d), 1);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 0); /* dropped, not malformed */
    ck_assert_str_eq(simvtp_dataset_video_id(d, 0), "3");
    ck_assert_msg(strstr(g_log, "dropped 3 rows with empty captions"), "log: %s", g_log);
    simvtp_dataset_free(d);
}
END_TEST

START_TEST(webvid_malformed_rows_skipped)
{
    char csv[PATH_MAX];
    put(csv, sizeof csv, "wv_bad.csv",
        WEBVID_HEADER
        "1,u,d,p,good one\n"
        "2,u,d,p,too,many\n"               /* line 3 */
        "3,u,d,p,\"bad \"quote\" here\"\n" /* line 4 */
        "4,u,d,p,good two\n"
        "../5,u,d,p,escapes the root\n"     /* line 6 */
        "6,u,d,,no page_dir\n"             /* line 7 */
        "7,u,d\n"                          /* line 8 */
        "8,u,d,p,\"good, three\"\n"
        "9,u,d,p,\"never closed");          /* line 10 */
    simvtp_dataset *d = NULL;
    log_start();
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_OK);
    log_stop();
    ck_assert_int_eq(simvtp_dataset_size(d), 3);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 6);
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 0), "good one");
    ck_assert_str_eq(simvtp_dataset_caption(d, 1, 0), "good two");
    ck_assert_str_eq(simvtp_dataset_caption(d, 2, 0), "good, three");
    for (int line = 3; line <= 10; line++) {
        if (line == 5 || line == 9) continue;
        char want[64];
        FMT(want, "wv_bad.csv: line %d ", line);
        ck_assert_msg(strstr(g_log, want), "no log line for %s in:\n%s", want, g_log);
    }
    ck_assert_ptr_nonnull(strstr(g_log, "unterminated"));
    ck_assert_ptr_nonnull(strstr(g_log, "(row skipped)"));
    simvtp_dataset_free(d);
}
END_TEST

START_TEST(webvid_errors)
{
    char csv[PATH_MAX], missing[PATH_MAX];
    simvtp_dataset *d = (simvtp_dataset *)1;
    tmp_path(missing, sizeof missing, "no_such_results.csv");
    EXPECT(simvtp_dataset_open_webvid(missing, "/v", &d), SIMVTP_ERR_IO);
    ck_assert_ptr_null(d);
    expect_detail("no_such_results.csv");
    EXPECT(simvtp_dataset_open_webvid(g_tmp, "/v", &d), SIMVTP_ERR_IO); /* a folder */

    put(csv, sizeof csv, "wv_header_only.csv", WEBVID_HEADER);
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_ERR_FORMAT);
    expect_detail("wv_header_only.csv");
    expect_detail("no usable rows");

    put(csv, sizeof csv, "wv_all_bad.csv", WEBVID_HEADER "1,u,d,p\n2,u,d,p,\n3,\"u,d,p,x\n");
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_ERR_FORMAT);
    expect_detail("wv_all_bad.csv");
    expect_detail("2 malformed, 1 with empty captions");

    put(csv, sizeof csv, "wv_no_name.csv", "videoid,contentUrl,duration,page_dir\n1,u,d,p\n");
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_ERR_FORMAT);
    expect_detail("wv_no_name.csv");
    expect_detail("\"name\"");

    put(csv, sizeof csv, "wv_empty.csv", "");
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", &d), SIMVTP_ERR_FORMAT);
    expect_detail("wv_empty.csv");

    EXPECT(simvtp_dataset_open_webvid(NULL, "/v", &d), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_dataset_open_webvid(csv, NULL, &d), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_dataset_open_webvid(csv, "/v", NULL), SIMVTP_ERR_INVALID_ARG);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* MSRVTT                                                                   */
/* ------------------------------------------------------------------------ */

static const char *const MSRVTT_JSON =
    "{\"info\": {\"year\": \"2016\"},\n"
    " \"videos\": [{\"category\": 9, \"url\": \"u\", \"video_id\": \"video0\", \"start time\": 137.72,\n"
    "              \"end time\": 149.44, \"split\": \"train\", \"id\": 0},\n"
    "             {\"video_id\": \"video1\", \"id\": 1}, {\"video_id\": \"video2\", \"id\": 2},\n"
    "             {\"video_id\": \"video3\", \"id\": 3}],\n"
    " \"sentences\": [\n"
    "  {\"caption\": \"v1 third\", \"video_id\": \"video1\", \"sen_id\": 30},\n"
    "  {\"caption\": \"v0 second\", \"video_id\": \"video0\", \"sen_id\": 7},\n"
    "  {\"caption\": \"v1 first\", \"video_id\": \"video1\", \"sen_id\": 2},\n"
    "  {\"caption\": \"v0 first \\u00e9\", \"video_id\": \"video0\", \"sen_id\": 5},\n"
    "  {\"caption\": \"v1 second\", \"video_id\": \"video1\", \"sen_id\": 11},\n"
    "  {\"caption\": \"v2 only\", \"video_id\": \"video2\", \"sen_id\": 0},\n"
    "  {\"caption\": \"orphan\", \"video_id\": \"video77\", \"sen_id\": 1},\n"
    "  {\"caption\": 5, \"video_id\": \"video0\", \"sen_id\": 3}\n"
    " ]}\n";

START_TEST(msrvtt_train_all_captions_in_sen_id_order)
{
    char json[PATH_MAX], split[PATH_MAX];
    put(json, sizeof json, "MSRVTT_data.json", MSRVTT_JSON);
    put(split, sizeof split, "MSRVTT_train.9k.csv", "video_id\nvideo1\nvideo0\nvideo2\n");
    simvtp_dataset *d = NULL;
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m/videos", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 3);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 2); /* the orphan and the numeric caption */
    ck_assert_str_eq(simvtp_dataset_video_id(d, 0), "video1");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 0), "/m/videos/video1.mp4");
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 0), 3);
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 0), "v1 first");
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 1), "v1 second");
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 2), "v1 third");
    ck_assert_str_eq(simvtp_dataset_video_id(d, 1), "video0");
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 1), 2);
    ck_assert_str_eq(simvtp_dataset_caption(d, 1, 0), "v0 first \xC3\xA9");
    ck_assert_str_eq(simvtp_dataset_caption(d, 1, 1), "v0 second");
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 2), 1);
    ck_assert_str_eq(simvtp_dataset_caption(d, 2, 0), "v2 only");
    simvtp_dataset_free(d);

    /* unknown, caption-less and repeated videos in the split are skipped */
    put(split, sizeof split, "MSRVTT_train.bad.csv", "video_id\r\nvideo2\r\nvideo9\r\nvideo3\r\nvideo2\r\n");
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 1);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 2 + 3);
    simvtp_dataset_free(d);

    put(split, sizeof split, "MSRVTT_train.none.csv", "video_id\nvideo3\nvideo99\n");
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_FORMAT);
    expect_detail("MSRVTT_train.none.csv");
    expect_detail("no usable rows");
}
END_TEST

START_TEST(msrvtt_test_split)
{
    char json[PATH_MAX], split[PATH_MAX];
    put(json, sizeof json, "MSRVTT_data.json", MSRVTT_JSON);
    put(split, sizeof split, "MSRVTT_JSFUSION_test.csv",
        "key,vid_key,video_id,sentence\n"
        "ret0,msr2,video2,\"a man, in a hat, sings\"\n"
        "ret1,msr0,video0,a cat plays piano\n"
        "ret2,msr9,video9,not in the json\n"
        "ret3,msr3,video3,\n"
        "ret4,msr1,video1,\"the \"\"quoted\"\" one\"\n");
    simvtp_dataset *d = NULL;
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m/", SIMVTP_MSRVTT_TEST, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 3);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 2);
    ck_assert_str_eq(simvtp_dataset_video_id(d, 0), "video2");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 0), "/m/video2.mp4");
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 0), 1);
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 0), "a man, in a hat, sings");
    ck_assert_str_eq(simvtp_dataset_caption(d, 1, 0), "a cat plays piano");
    ck_assert_str_eq(simvtp_dataset_caption(d, 2, 0), "the \"quoted\" one");
    simvtp_dataset_free(d);
    /* without the json every row with a sentence is kept */
    EXPECT(simvtp_dataset_open_msrvtt(NULL, split, "/m", SIMVTP_MSRVTT_TEST, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 4);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 1);
    simvtp_dataset_free(d);
    /* the test CSV needs a sentence column */
    put(split, sizeof split, "MSRVTT_test_nosent.csv", "key,vid_key,video_id\nret0,msr2,video2\n");
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", SIMVTP_MSRVTT_TEST, &d), SIMVTP_ERR_FORMAT);
    expect_detail("\"sentence\"");
}
END_TEST

START_TEST(msrvtt_errors)
{
    char json[PATH_MAX], split[PATH_MAX], missing[PATH_MAX];
    simvtp_dataset *d = NULL;
    put(split, sizeof split, "MSRVTT_train.9k.csv", "video_id\nvideo0\n");
    tmp_path(missing, sizeof missing, "no_such_data.json");
    EXPECT(simvtp_dataset_open_msrvtt(missing, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_IO);
    expect_detail("no_such_data.json");
    put(json, sizeof json, "MSRVTT_data.json", MSRVTT_JSON);
    tmp_path(missing, sizeof missing, "no_such_split.csv");
    EXPECT(simvtp_dataset_open_msrvtt(json, missing, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_IO);
    expect_detail("no_such_split.csv");
    EXPECT(simvtp_dataset_open_msrvtt(json, missing, "/m", SIMVTP_MSRVTT_TEST, &d), SIMVTP_ERR_IO);

    put(json, sizeof json, "bad_data.json", "{\"videos\": [],\n \"sentences\": [\n  {\"caption\": \"x\" \"video_id\"}]}");
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_FORMAT);
    expect_detail("bad_data.json:3:19:");
    put(json, sizeof json, "trunc_data.json", "{\"videos\": [{\"video_id\": \"vid");
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_FORMAT);
    expect_detail("trunc_data.json:1:");
    put(json, sizeof json, "nosent_data.json", "{\"videos\": []}");
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_FORMAT);
    expect_detail("\"sentences\"");
    put(json, sizeof json, "array_data.json", "[1, 2]");
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_FORMAT);
    expect_detail("array_data.json:1:1:");

    put(json, sizeof json, "MSRVTT_data.json", MSRVTT_JSON);
    put(split, sizeof split, "split_noid.csv", "vid\nvideo0\n");
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_FORMAT);
    expect_detail("\"video_id\"");
    EXPECT(simvtp_dataset_open_msrvtt(NULL, split, "/m", SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "/m", 2, &d), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_dataset_open_msrvtt(json, NULL, "/m", SIMVTP_MSRVTT_TEST, &d), SIMVTP_ERR_INVALID_ARG);
    EXPECT(simvtp_dataset_open_msrvtt(json, split, "", SIMVTP_MSRVTT_TEST, &d), SIMVTP_ERR_INVALID_ARG);
    ck_assert_ptr_null(d);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Plain list                                                               */
/* ------------------------------------------------------------------------ */

START_TEST(list_reader)
{
    char list[PATH_MAX], want[PATH_MAX];
    put(list, sizeof list, "clips.tsv",
        "a/one.mp4\tthe first clip, with a comma\n"
        "/abs/two.webm\tan absolute path\r\n"
        "\n"
        "no tab on this line\n"
        "a/one.mp4\ta second caption of the first clip\n"
        "\tno path\n"
        "three.mkv\t\n"
        "three\tid without extension");
    simvtp_dataset *d = NULL;
    log_start();
    EXPECT(simvtp_dataset_open_list(list, NULL, &d), SIMVTP_OK);
    log_stop();
    ck_assert_int_eq(simvtp_dataset_size(d), 3);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 3);
    ck_assert_msg(strstr(g_log, "clips.tsv: line 4: no TAB"), "log: %s", g_log);
    FMT(want, "%s/a/one.mp4", g_tmp);
    ck_assert_str_eq(simvtp_dataset_video_path(d, 0), want);
    ck_assert_str_eq(simvtp_dataset_video_id(d, 0), "one");
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 0), 2);
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 0), "the first clip, with a comma");
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 1), "a second caption of the first clip");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 1), "/abs/two.webm");
    ck_assert_str_eq(simvtp_dataset_video_id(d, 1), "two");
    ck_assert_str_eq(simvtp_dataset_caption(d, 1, 0), "an absolute path");
    ck_assert_str_eq(simvtp_dataset_video_id(d, 2), "three");
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 2), 1);
    simvtp_dataset_free(d);

    EXPECT(simvtp_dataset_open_list(list, "/root/", &d), SIMVTP_OK);
    ck_assert_str_eq(simvtp_dataset_video_path(d, 0), "/root/a/one.mp4");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 1), "/abs/two.webm");
    ck_assert_str_eq(simvtp_dataset_video_path(d, 2), "/root/three");
    simvtp_dataset_free(d);

    /* many distinct videos (the index grows) */
    size_t cap = 64 * 5000;
    char *big = malloc(cap);
    ck_assert_ptr_nonnull(big);
    size_t n = 0;
    for (int i = 0; i < 5000; i++) n += (size_t)snprintf(big + n, cap - n, "v%d.mp4\tclip %d\n", i % 3000, i);
    tmp_path(list, sizeof list, "big.tsv");
    write_text(list, big, n);
    free(big);
    EXPECT(simvtp_dataset_open_list(list, "/r", &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 3000);
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 0), 2);
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 1), "clip 3000");
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 2999), 1);
    ck_assert_str_eq(simvtp_dataset_video_path(d, 2999), "/r/v2999.mp4");
    simvtp_dataset_free(d);

    put(list, sizeof list, "empty_list.tsv", "\n\njunk\n");
    EXPECT(simvtp_dataset_open_list(list, NULL, &d), SIMVTP_ERR_FORMAT);
    expect_detail("empty_list.tsv");
    tmp_path(list, sizeof list, "no_such_list.tsv");
    EXPECT(simvtp_dataset_open_list(list, NULL, &d), SIMVTP_ERR_IO);
    expect_detail("no_such_list.tsv");
}
END_TEST

START_TEST(accessor_contracts)
{
    char list[PATH_MAX];
    put(list, sizeof list, "one.tsv", "x.mp4\tcap\n");
    simvtp_dataset *d = NULL;
    EXPECT(simvtp_dataset_open_list(list, "/r", &d), SIMVTP_OK);
    ck_assert_ptr_null(simvtp_dataset_video_id(d, 1));
    ck_assert(simvtp_last_error()[0]);
    ck_assert_ptr_null(simvtp_dataset_video_path(d, -1));
    ck_assert_ptr_null(simvtp_dataset_caption(d, 0, 1));
    ck_assert(simvtp_last_error()[0]);
    ck_assert_ptr_null(simvtp_dataset_caption(d, 0, -1));
    ck_assert_int_eq(simvtp_dataset_num_captions(d, 5), SIMVTP_ERR_INVALID_ARG);
    ck_assert_str_eq(simvtp_dataset_caption(d, 0, 0), "cap");
    ck_assert_str_eq(simvtp_last_error(), "");
    ck_assert_int_eq(simvtp_dataset_size(NULL), SIMVTP_ERR_INVALID_ARG);
    ck_assert_int_eq(simvtp_dataset_skipped(NULL), SIMVTP_ERR_INVALID_ARG);
    ck_assert_ptr_null(simvtp_dataset_video_id(NULL, 0));
    ck_assert_int_eq(simvtp_dataset_num_captions(NULL, 0), SIMVTP_ERR_INVALID_ARG);
    simvtp_dataset_free(d);
    simvtp_dataset_free(NULL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* End to end: simvtp-sample-data, then all three readers                   */
/* ------------------------------------------------------------------------ */

typedef struct truth_row {
    char layout[32], id[64], path[256], shape[32], colour[32], motion[32], background[32];
    int frames, width, height;
} truth_row;

static int read_truth(const char *dir, truth_row *rows, int cap)
{
    char path[PATH_MAX], line[1024];
    FMT(path, "%s/truth.tsv", dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_msg(strncmp(line, "layout\tvideo_id\tpath\t", 21) == 0, "header: %s", line);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        ck_assert_int_lt(n, cap);
        truth_row *r = &rows[n++];
        int got = sscanf(line, "%31[^\t]\t%63[^\t]\t%255[^\t]\t%31[^\t]\t%31[^\t]\t%31[^\t]\t%31[^\t]\t%d\t%d\t%d",
                         r->layout, r->id, r->path, r->shape, r->colour, r->motion, r->background,
                         &r->frames, &r->width, &r->height);
        ck_assert_msg(got == 10, "bad truth line: %s", line);
    }
    fclose(f);
    return n;
}

static const truth_row *find_truth(const truth_row *rows, int n, const char *layout, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strncmp(rows[i].layout, layout, strlen(layout)) == 0 && strcmp(rows[i].id, id) == 0) return &rows[i];
    ck_assert_msg(0, "%s %s is not in truth.tsv", layout, id);
    return NULL;
}

static int count_layout(const truth_row *rows, int n, const char *layout)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += strcmp(rows[i].layout, layout) == 0;
    return k;
}

static void expect_mp4(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "missing video %s", path);
    unsigned char head[12];
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    ck_assert_msg(got == sizeof head && memcmp(head + 4, "ftyp", 4) == 0, "%s does not start with an ftyp box",
                  path);
}

/* Every video of d exists, is an mp4, and each caption names its colour and shape. */
static void check_dataset(const simvtp_dataset *d, const truth_row *rows, int n, const char *layout)
{
    for (int i = 0; i < simvtp_dataset_size(d); i++) {
        const truth_row *t = find_truth(rows, n, layout, simvtp_dataset_video_id(d, i));
        expect_mp4(simvtp_dataset_video_path(d, i));
        ck_assert_int_ge(simvtp_dataset_num_captions(d, i), 1);
        for (int k = 0; k < simvtp_dataset_num_captions(d, i); k++) {
            const char *c = simvtp_dataset_caption(d, i, k);
            ck_assert_msg(strstr(c, t->colour) && strstr(c, t->shape), "%s caption \"%s\" should name a %s %s",
                          t->id, c, t->colour, t->shape);
        }
    }
}

static int run_generator(const char *exe, const char *out, const char *extra)
{
    char cmd[3 * PATH_MAX];
    FMT(cmd,
             "'%s' --out '%s' --seed 7 --webvid-train 9 --webvid-val 3 --msrvtt-train 6 --msrvtt-test 4 "
             "--frames 12 --width 64 --height 48 %s 2>/dev/null",
             exe, out, extra);
    int st = system(cmd);
    ck_assert_msg(st != -1 && WIFEXITED(st), "cannot run %s", cmd);
    return WEXITSTATUS(st);
}

static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

START_TEST(sample_data_end_to_end)
{
    const char *exe = getenv("SIMVTP_SAMPLE_DATA");
    if (!exe || !*exe) {
        fprintf(stderr, "sample_data_end_to_end: SKIPPED (no simvtp-sample-data: built without FFmpeg)\n");
        return;
    }
    char out[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], root[PATH_MAX];
    tmp_path(out, sizeof out, "sample");
    ck_assert_int_eq(run_generator(exe, out, ""), 0);
    ck_assert_int_eq(run_generator(exe, out, "--bogus-flag"), 2);
    ck_assert_int_eq(run_generator(exe, out, "--width 63"), 2);

    static truth_row rows[64];
    int n = read_truth(out, rows, 64);
    ck_assert_int_eq(n, 9 + 3 + 6 + 4);
    ck_assert_int_eq(count_layout(rows, n, "webvid-train"), 9);
    ck_assert_int_eq(count_layout(rows, n, "msrvtt-test"), 4);
    for (int i = 0; i < n; i++) {
        ck_assert(rows[i].frames >= 12 && rows[i].frames <= 18);
        ck_assert(rows[i].width == 64 && rows[i].height == 48);
    }

    /* WebVid */
    simvtp_dataset *d = NULL;
    FMT(p1, "%s/webvid/results_2M_train.csv", out);
    FMT(root, "%s/webvid/videos", out);
    EXPECT(simvtp_dataset_open_webvid(p1, root, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 9);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 0);
    check_dataset(d, rows, n, "webvid-train");
    simvtp_dataset_free(d);
    FMT(p1, "%s/webvid/results_2M_val.csv", out);
    EXPECT(simvtp_dataset_open_webvid(p1, root, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 3);
    check_dataset(d, rows, n, "webvid-val");
    simvtp_dataset_free(d);

    /* the WebVid CSV needs quoting somewhere (commas, quotes in captions) */
    FMT(p1, "%s/webvid/results_2M_train.csv", out);
    size_t quoted = 0;
    FILE *f = fopen(p1, "rb");
    ck_assert_ptr_nonnull(f);
    for (int ch; (ch = fgetc(f)) != EOF;) quoted += ch == '"';
    fclose(f);
    ck_assert_uint_gt(quoted, 0);

    /* MSRVTT */
    FMT(p1, "%s/msrvtt/MSRVTT_data.json", out);
    FMT(p2, "%s/msrvtt/MSRVTT_train.9k.csv", out);
    FMT(root, "%s/msrvtt/videos", out);
    EXPECT(simvtp_dataset_open_msrvtt(p1, p2, root, SIMVTP_MSRVTT_TRAIN, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 6);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_ge(simvtp_dataset_num_captions(d, i), 5);
        ck_assert_int_le(simvtp_dataset_num_captions(d, i), 10);
    }
    check_dataset(d, rows, n, "msrvtt-train");
    simvtp_dataset_free(d);
    FMT(p2, "%s/msrvtt/MSRVTT_JSFUSION_test.csv", out);
    EXPECT(simvtp_dataset_open_msrvtt(p1, p2, root, SIMVTP_MSRVTT_TEST, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), 4);
    ck_assert_int_eq(simvtp_dataset_skipped(d), 0);
    check_dataset(d, rows, n, "msrvtt-test");
    simvtp_dataset_free(d);

    /* plain list built from the truth, paths relative to the output folder */
    FMT(p1, "%s/list.tsv", out);
    f = fopen(p1, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\ta %s %s, %s, on %s\n", rows[i].path, rows[i].colour, rows[i].shape, rows[i].motion,
                rows[i].background);
    fclose(f);
    EXPECT(simvtp_dataset_open_list(p1, NULL, &d), SIMVTP_OK);
    ck_assert_int_eq(simvtp_dataset_size(d), n);
    for (int i = 0; i < n; i++) {
        expect_mp4(simvtp_dataset_video_path(d, i));
        ck_assert_ptr_nonnull(strstr(simvtp_dataset_caption(d, i, 0), rows[i].colour));
    }
    simvtp_dataset_free(d);

    /* deterministic: the same seed gives the same bytes */
    char out2[PATH_MAX];
    tmp_path(out2, sizeof out2, "sample2");
    ck_assert_int_eq(run_generator(exe, out2, ""), 0);
    static const char *const files[] = {"truth.tsv", "webvid/results_2M_train.csv", "webvid/results_2M_val.csv",
                                        "msrvtt/MSRVTT_data.json", "msrvtt/MSRVTT_train.9k.csv",
                                        "msrvtt/MSRVTT_JSFUSION_test.csv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FMT(p1, "%s/%s", out, files[i]);
        FMT(p2, "%s/%s", out2, files[i]);
        ck_assert_msg(same_file(p1, p2), "%s differs between two runs with the same seed", files[i]);
    }
    for (int i = 0; i < n; i++) {
        FMT(p1, "%s/%s", out, rows[i].path);
        FMT(p2, "%s/%s", out2, rows[i].path);
        ck_assert_msg(same_file(p1, p2), "%s differs between two runs with the same seed", rows[i].path);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, csv_quoting);
    tcase_add_test(tc, csv_newlines_inside_quotes);
    tcase_add_test(tc, csv_crlf_bom_blank_lines_no_final_newline);
    tcase_add_test(tc, csv_empty_fields);
    tcase_add_test(tc, csv_malformed_rows_resync);
    tcase_add_test(tc, csv_header_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("json");
    tcase_add_test(tc, json_values_and_nesting);
    tcase_add_test(tc, json_string_escapes);
    tcase_add_test(tc, json_malformed_line_col);
    tcase_add_test(tc, json_truncated);
    tcase_add_test(tc, json_depth_bomb);
    suite_add_tcase(s, tc);
    tc = tcase_create("readers");
    tcase_add_test(tc, webvid_basic);
    tcase_add_test(tc, webvid_columns_in_another_order);
    tcase_add_test(tc, webvid_caption_cut_utf8);
    tcase_add_test(tc, webvid_empty_captions_dropped);
    tcase_add_test(tc, webvid_malformed_rows_skipped);
    tcase_add_test(tc, webvid_errors);
    tcase_add_test(tc, msrvtt_train_all_captions_in_sen_id_order);
    tcase_add_test(tc, msrvtt_test_split);
    tcase_add_test(tc, msrvtt_errors);
    tcase_add_test(tc, list_reader);
    tcase_add_test(tc, accessor_contracts);
    suite_add_tcase(s, tc);
    tc = tcase_create("sample_data");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, sample_data_end_to_end);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    int len = snprintf(g_tmp, sizeof g_tmp, "%s/simvtp-dataset-XXXXXX", base && *base ? base : "/tmp");
    if (len < 0 || (size_t)len >= sizeof g_tmp || !mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    SRunner *sr = srunner_create(dataset_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? 1 : 0;
}
