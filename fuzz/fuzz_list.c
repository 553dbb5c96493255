/* fuzz/fuzz_list.c — the plain "path<TAB>caption" list: the input is the
 * file; simvtp_dataset_open_list with video_root NULL (paths from the list's
 * folder), "" and "/videos/", then every id, path and caption. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("list.tsv", data, size);
    static const char *const roots[3] = {NULL, "", "/videos/"};
    for (int r = 0; r < 3; r++) {
        simvtp_dataset *d = NULL;
        if (simvtp_dataset_open_list(path, roots[r], &d) == SIMVTP_OK) {
            fz_walk_dataset(d);
            simvtp_dataset_free(d);
        }
    }
    return 0;
}
