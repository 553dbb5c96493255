/* simvtp/dataset.h — video-caption lists read from the formats the public
 * datasets ship in: WebVid-2M CSV, MSRVTT (json + split CSVs), and a plain
 * "path<TAB>caption" list. A malformed row is skipped and counted (see
 * simvtp_dataset_skipped and the log callback); an unreadable file or one
 * with no usable row is an error naming the file (and row).
 *
 * Thread safety: a dataset is read-only after opening. */
#ifndef SIMVTP_DATASET_H
#define SIMVTP_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "simvtp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simvtp_dataset simvtp_dataset;

typedef enum simvtp_msrvtt_split {
    SIMVTP_MSRVTT_TRAIN = 0, /* videos of the split CSV (e.g. MSRVTT_train.9k.csv),
                                every caption of each from MSRVTT_data.json */
    SIMVTP_MSRVTT_TEST = 1   /* MSRVTT_JSFUSION_test.csv: one caption per video */
} simvtp_msrvtt_split;

/* WebVid: results_2M_*.csv (videoid, contentUrl, duration, page_dir, name),
 * RFC 4180 quoting (commas, quotes, newlines inside quotes); videos at
 * video_root/{page_dir}/{videoid}.mp4; captions cut at 350 bytes (on a
 * UTF-8 boundary); rows with empty captions dropped. */
SIMVTP_API int simvtp_dataset_open_webvid(const char *csv_path, const char *video_root,
                                          simvtp_dataset **out);
/* MSRVTT: json_path = MSRVTT_data.json, split_csv = the split's CSV; videos
 * at video_root/{video_id}.mp4. */
SIMVTP_API int simvtp_dataset_open_msrvtt(const char *json_path, const char *split_csv,
                                          const char *video_root, int split,
                                          simvtp_dataset **out);
/* Plain list: one "path<TAB>caption" per line; relative paths are taken
 * from video_root (or the list's folder when video_root is NULL). */
SIMVTP_API int simvtp_dataset_open_list(const char *list_path, const char *video_root,
                                        simvtp_dataset **out);
SIMVTP_API void simvtp_dataset_free(simvtp_dataset *d);

SIMVTP_API int simvtp_dataset_size(const simvtp_dataset *d);          /* videos */
SIMVTP_API int64_t simvtp_dataset_skipped(const simvtp_dataset *d);   /* bad rows */
SIMVTP_API const char *simvtp_dataset_video_id(const simvtp_dataset *d, int i);
SIMVTP_API const char *simvtp_dataset_video_path(const simvtp_dataset *d, int i);
SIMVTP_API int simvtp_dataset_num_captions(const simvtp_dataset *d, int i);
SIMVTP_API const char *simvtp_dataset_caption(const simvtp_dataset *d, int i, int k);

#ifdef __cplusplus
}
#endif
#endif /* SIMVTP_DATASET_H */
