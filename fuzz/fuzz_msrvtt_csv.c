/* fuzz/fuzz_msrvtt_csv.c — an MSRVTT split CSV: the input is the CSV;
 * simvtp_dataset_open_msrvtt with a fixed small MSRVTT_data.json for the
 * TRAIN and TEST splits, and TEST without a json, then every id, path and
 * caption. */
#include "fuzz_common.h"

static const char json_text[] =
    "{\"info\": {\"year\": 2016}, \"videos\": [\n"
    " {\"category\": 9, \"url\": \"https://www.youtube.com/watch?v=x\", \"video_id\": \"video0\", \"id\": 0, \"split\": \"train\"},\n"
    " {\"video_id\": \"video1\", \"id\": 1},\n"
    " {\"video_id\": \"video2\", \"id\": 2},\n"
    " {\"video_id\": \"video7\", \"id\": 7}],\n"
    " \"sentences\": [\n"
    " {\"caption\": \"a man is playing the guitar\", \"video_id\": \"video0\", \"sen_id\": 1},\n"
    " {\"caption\": \"someone plays music\", \"video_id\": \"video0\", \"sen_id\": 0},\n"
    " {\"caption\": \"a cat on a mat\", \"video_id\": \"video1\", \"sen_id\": 2},\n"
    " {\"caption\": \"\\u00e9t\\u00e9 \\ud83d\\ude00\", \"video_id\": \"video7\", \"sen_id\": 3}]}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *json;
    if (!json) json = fz_write_str("MSRVTT_data.json", json_text);
    const char *csv = fz_write("split.csv", data, size);
    for (int run = 0; run < 3; run++) {
        simvtp_dataset *d = NULL;
        int split = run ? SIMVTP_MSRVTT_TEST : SIMVTP_MSRVTT_TRAIN;
        if (simvtp_dataset_open_msrvtt(run == 2 ? NULL : json, csv, "/videos", split, &d) == SIMVTP_OK) {
            fz_walk_dataset(d);
            simvtp_dataset_free(d);
        }
    }
    return 0;
}
