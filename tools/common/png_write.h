/* png_write.h — save a tk_canvas as an 8-bit RGB PNG (libpng), atomically. */
#ifndef SIMVTP_TOOLKIT_PNG_WRITE_H
#define SIMVTP_TOOLKIT_PNG_WRITE_H

#include <stddef.h>

#include "image.h"

/* Writes path via a temporary file in the same directory, fsync and rename, so
 * readers see the old file or the complete new one. Returns 0, or -1 with a
 * message such as "out/vis.png: No space left on device" in err (err may be NULL;
 * errno is set). Never prints. */
int tk_png_write(const tk_canvas *c, const char *path, char *err, size_t err_len);

#endif
