/* fuzz/fuzz_msrvtt_json.c — MSRVTT_data.json: the input is the JSON;
 * simvtp_dataset_open_msrvtt with fixed small split CSVs, for the TRAIN split
 * (every sentence of each listed video) and the TEST split (the json's
 * "videos" only), then every id, path and caption. */
#include "fuzz_common.h"

static const char train_csv[] = "key,vid_key,video_id\nret0,msr0,video0\nret1,msr1,video1\n"
                                "ret2,msr2,video2\nret9,msr9,video9\n";
static const char test_csv[] = "key,vid_key,video_id,sentence\n"
                               "ret0,msr0,video0,a man is playing the guitar\n"
                               "ret7,msr7,video7,\"a cat, on a mat\"\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *train, *test;
    if (!train) {
        train = fz_write_str("MSRVTT_train.9k.csv", train_csv);
        test = fz_write_str("MSRVTT_JSFUSION_test.csv", test_csv);
    }
    const char *json = fz_write("MSRVTT_data.json", data, size);
    for (int split = 0; split < 2; split++) {
        simvtp_dataset *d = NULL;
        if (simvtp_dataset_open_msrvtt(json, split ? test : train, "/videos", split, &d) == SIMVTP_OK) {
            fz_walk_dataset(d);
            simvtp_dataset_free(d);
        }
    }
    return 0;
}
