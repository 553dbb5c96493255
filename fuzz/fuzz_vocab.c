/* fuzz/fuzz_vocab.c — vocab.txt: the input is the file; simvtp_tokenizer_load
 * (default params), then encode a fixed sentence, decode it back, and look
 * up every token and a few strings. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("vocab.txt", data, size);
    simvtp_tokenizer *t = NULL;
    if (simvtp_tokenizer_load(path, NULL, &t) != SIMVTP_OK) return 0;
    int n = simvtp_tokenizer_vocab_size(t);
    for (int i = 0; i < n && i < 4096; i++) {
        const char *s = simvtp_tokenizer_token(t, i);
        fz_touch_str(s);
        if (s) fz_sink += (size_t)simvtp_tokenizer_token_id(t, s);
    }
    fz_sink += (size_t)simvtp_tokenizer_token_id(t, "##ing");
    int32_t ids[32];
    int len = 0;
    static const char text[] = "A man is playing the guitar, \xc3\xa9t\xc3\xa9 unaffable \xe4\xb8\x80\xe4\xba\x8c!";
    if (simvtp_tokenizer_encode(t, text, ids, 32, &len) == SIMVTP_OK) {
        char out[256];
        fz_sink += (size_t)simvtp_tokenizer_decode(t, ids, len, 0, out, sizeof out);
        fz_sink += (size_t)simvtp_tokenizer_decode(t, ids, len, 1, out, 7);
    }
    simvtp_tokenizer_free(t);
    return 0;
}
