/* fuzz/fuzz_webvid.c — WebVid CSV (results_2M_*.csv): the input is the file;
 * simvtp_dataset_open_webvid, then every id, path and caption. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("results_2M_train.csv", data, size);
    simvtp_dataset *d = NULL;
    if (simvtp_dataset_open_webvid(path, "/videos", &d) == SIMVTP_OK) {
        fz_walk_dataset(d);
        simvtp_dataset_free(d);
    }
    return 0;
}
