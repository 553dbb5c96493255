/* model/weights_io.c — the .svtp weights file (docs/FORMATS.md): magic,
 * version, header size, model kind and config, a tensor table with CRC-32s,
 * and the fp32 payload. Every size read is checked against the file. */
#include <stdlib.h>
#include <string.h>

#include "core/config_internal.h"
#include "core/fileio.h"
#include "core/status_internal.h"
#include "model/model.h"

#define SVTP_MAGIC "SVTPWGT1"
#define SVTP_VERSION 1u
#define SVTP_DTYPE_F32 0u

int simvtp_model_save(const simvtp_model *m, const char *path)
{
    sv_clear_error();
    SV_CHECK_ARG(m && path, "simvtp_model_save: model and path must not be NULL");
    /* header size first, so readers can skip to the payload */
    size_t hdr = 8 + 4 * 5 + 4 * SV_CONFIG_WORDS;
    for (int i = 0; i < m->ntensors; i++)
        hdr += 4 + strlen(m->tensors[i].name) + 4 + 4 + 8 * (size_t)m->tensors[i].ndim + 8 + 8 + 4;
    hdr += 4; /* header crc */
    SV_TRY(m->be->activate(m->be));
    float *params = sv_host_get(m->be, m->params, m->nparams);
    uint8_t *h = params ? malloc(hdr) : NULL;
    if (!h) {
        if (params) sv_host_drop(m->be, m->params, params);
        return sv_fail(SIMVTP_ERR_NOMEM, "out of memory writing %s", path);
    }
    size_t o = 0;
#define PUT(src, n) (memcpy(h + o, (src), (n)), o += (n))
#define PUT32(v) do { uint32_t v_ = (uint32_t)(v); uint8_t b_[4] = {(uint8_t)v_, (uint8_t)(v_ >> 8), (uint8_t)(v_ >> 16), (uint8_t)(v_ >> 24)}; PUT(b_, 4); } while (0)
#define PUT64(v) do { uint64_t w_ = (uint64_t)(v); PUT32(w_); PUT32(w_ >> 32); } while (0)
    PUT(SVTP_MAGIC, 8);
    PUT32(SVTP_VERSION);
    PUT32(hdr);
    PUT32(m->kind);
    PUT32(SV_CONFIG_WORDS);
    uint32_t words[SV_CONFIG_WORDS];
    sv_config_to_words(&m->cfg, words);
    for (int i = 0; i < SV_CONFIG_WORDS; i++) PUT32(words[i]);
    PUT32(m->ntensors);
    uint64_t off = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const sv_tensor *t = &m->tensors[i];
        size_t nl = strlen(t->name);
        PUT32(nl);
        PUT(t->name, nl);
        PUT32(SVTP_DTYPE_F32);
        PUT32(t->ndim);
        for (int k = 0; k < t->ndim; k++) PUT64(t->shape[k]);
        PUT64(off);
        PUT64(t->numel * 4);
        PUT32(sv_crc32(0, params + t->offset, t->numel * 4));
        off += t->numel * 4;
    }
    PUT32(sv_crc32(0, h, o));
#undef PUT
#undef PUT32
#undef PUT64
    sv_writer w;
    int rc = sv_writer_open(&w, path);
    if (rc) {
        free(h);
        sv_host_drop(m->be, m->params, params);
        return rc;
    }
    sv_write(&w, h, hdr);
    free(h);
    for (int i = 0; i < m->ntensors; i++)
        sv_write(&w, params + m->tensors[i].offset, m->tensors[i].numel * 4);
    sv_host_drop(m->be, m->params, params);
    return sv_writer_commit(&w);
}

typedef struct svtp_header {
    uint32_t kind;
    simvtp_config cfg;
    uint32_t header_bytes, ntensors;
    size_t table_pos; /* offset of the tensor table */
} svtp_header;

static int parse_header(const uint8_t *buf, size_t size, const char *path, svtp_header *h)
{
    sv_reader r = {buf, size, 0, path};
    char magic[8];
    uint32_t version, nwords, words[SV_CONFIG_WORDS];
    if (size < 8 || memcmp(buf, SVTP_MAGIC, 8) != 0)
        return sv_fail(SIMVTP_ERR_FORMAT,
                       "%s is not a libsimvtp weights file (magic is not \"" SVTP_MAGIC "\"); "
                       "a PyTorch checkpoint must be converted first", path);
    SV_TRY(sv_read_bytes(&r, magic, 8, "magic"));
    SV_TRY(sv_read_u32(&r, &version, "format version"));
    if (version != SVTP_VERSION)
        return sv_fail(SIMVTP_ERR_VERSION,
                       "%s has .svtp format version %u; this libsimvtp %s reads version %u", path,
                       version, simvtp_version_string(), SVTP_VERSION);
    SV_TRY(sv_read_u32(&r, &h->header_bytes, "header size"));
    SV_TRY(sv_read_u32(&r, &h->kind, "model kind"));
    SV_TRY(sv_read_u32(&r, &nwords, "config size"));
    if (nwords != SV_CONFIG_WORDS)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: config block has %u words, expected %d", path, nwords, SV_CONFIG_WORDS);
    for (int i = 0; i < SV_CONFIG_WORDS; i++) SV_TRY(sv_read_u32(&r, &words[i], "config"));
    SV_TRY(sv_read_u32(&r, &h->ntensors, "tensor count"));
    if (h->header_bytes > size)
        return sv_fail(SIMVTP_ERR_TRUNCATED, "%s: header says %u bytes but the file has %zu",
                       path, h->header_bytes, size);
    if (h->header_bytes < r.pos + 4)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: header size %u is too small", path, h->header_bytes);
    uint32_t crc_stored, crc = sv_crc32(0, buf, h->header_bytes - 4);
    sv_reader rc = {buf, size, h->header_bytes - 4, path};
    SV_TRY(sv_read_u32(&rc, &crc_stored, "header checksum"));
    if (crc != crc_stored)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: header checksum mismatch (file damaged)", path);
    if (h->kind != SIMVTP_MODEL_PRETRAIN && h->kind != SIMVTP_MODEL_RETRIEVAL)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: unknown model kind %u", path, h->kind);
    sv_config_from_words(&h->cfg, words);
    if (simvtp_config_validate(&h->cfg) != SIMVTP_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", simvtp_last_error());
        return sv_fail(SIMVTP_ERR_FORMAT, "%s: stored config is invalid: %s", path, why);
    }
    h->table_pos = r.pos;
    return SIMVTP_OK;
}

static int fill_each(simvtp_model *m, const uint8_t *buf, size_t size, const char *path,
                     const svtp_header *h, sv_reader *rr, uint8_t *seen);

/* Copy every tensor of m from the file, checking names, shapes, bounds, CRCs. */
static int fill_tensors(simvtp_model *m, const uint8_t *buf, size_t size, const char *path,
                        const svtp_header *h)
{
    if (h->ntensors != (uint32_t)m->ntensors)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s holds %u tensors; this model has %d", path,
                       h->ntensors, m->ntensors);
    sv_reader r = {buf, h->header_bytes - 4, h->table_pos, path};
    uint8_t *seen = calloc((size_t)m->ntensors, 1);
    if (!seen) return sv_fail(SIMVTP_ERR_NOMEM, "out of memory loading %s", path);
    int rc = fill_each(m, buf, size, path, h, &r, seen);
    free(seen);
    return rc;
}

static int fill_each(simvtp_model *m, const uint8_t *buf, size_t size, const char *path,
                     const svtp_header *h, sv_reader *rr, uint8_t *seen)
{
    sv_reader r = *rr;
    for (int i = 0; i < m->ntensors; i++) {
        uint32_t nl, dtype, ndim, crc;
        uint64_t dims[5], off, nbytes;
        char name[SV_NAME_MAX];
        SV_TRY(sv_read_u32(&r, &nl, "tensor name length"));
        if (nl == 0 || nl >= SV_NAME_MAX)
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: tensor %d has a bad name length %u", path, i, nl);
        SV_TRY(sv_read_bytes(&r, name, nl, "tensor name"));
        name[nl] = '\0';
        SV_TRY(sv_read_u32(&r, &dtype, "tensor dtype"));
        SV_TRY(sv_read_u32(&r, &ndim, "tensor rank"));
        if (dtype != SVTP_DTYPE_F32 || ndim < 1 || ndim > 5)
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: tensor %s has dtype %u rank %u (expected fp32, rank 1..5)",
                           path, name, dtype, ndim);
        for (uint32_t k = 0; k < ndim; k++) SV_TRY(sv_read_u64(&r, &dims[k], "tensor shape"));
        SV_TRY(sv_read_u64(&r, &off, "tensor offset"));
        SV_TRY(sv_read_u64(&r, &nbytes, "tensor size"));
        SV_TRY(sv_read_u32(&r, &crc, "tensor checksum"));
        int j = sv_model_find_tensor(m, name);
        if (j < 0)
            return sv_fail(SIMVTP_ERR_MISMATCH, "%s: tensor %s is not part of this model", path, name);
        if (seen[j]++)
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: tensor %s appears twice", path, name);
        const sv_tensor *t = &m->tensors[j];
        int same = (int)ndim == t->ndim && nbytes == t->numel * 4;
        for (uint32_t k = 0; same && k < ndim; k++) same = dims[k] == (uint64_t)t->shape[k];
        if (!same)
            return sv_fail(SIMVTP_ERR_MISMATCH, "%s: tensor %s has another shape than this model's", path, name);
        size_t payload = size - h->header_bytes;
        if (off > payload || nbytes > payload - off)
            return sv_fail(SIMVTP_ERR_TRUNCATED,
                           "%s: tensor %s lies at bytes %llu..%llu of the payload, which has %zu (file truncated?)",
                           path, name, (unsigned long long)off, (unsigned long long)(off + nbytes), payload);
        const uint8_t *src = buf + h->header_bytes + off;
        if (sv_crc32(0, src, nbytes) != crc)
            return sv_fail(SIMVTP_ERR_FORMAT, "%s: tensor %s fails its checksum (file damaged)", path, name);
        m->be->memcpy_h2d(m->params + t->offset, src, nbytes);
    }
    return m->be->finish(m->be);
}

/* Before allocating the model a file describes: its tensor count, and a
 * payload large enough for its parameters, so that a small damaged file
 * cannot make the loader allocate a huge model first. */
static int check_payload_size(const svtp_header *h, size_t size, const char *path)
{
    size_t nparams;
    int ntensors;
    SV_TRY(sv_model_table_size(&h->cfg, (int)h->kind, &nparams, &ntensors));
    if (h->ntensors != (uint32_t)ntensors)
        return sv_fail(SIMVTP_ERR_FORMAT, "%s holds %u tensors; this model has %d", path, h->ntensors, ntensors);
    if ((size - h->header_bytes) / 4 < nparams)
        return sv_fail(SIMVTP_ERR_TRUNCATED,
                       "%s: the payload has %zu bytes but the stored config needs %zu parameters "
                       "(file truncated?)", path, size - h->header_bytes, nparams);
    return SIMVTP_OK;
}

int simvtp_model_load(const char *path, const simvtp_model_params *p, simvtp_model **out)
{
    sv_clear_error();
    SV_CHECK_ARG(path && out, "simvtp_model_load: path and out must not be NULL");
    *out = NULL;
    simvtp_model_params def;
    if (!p) { simvtp_model_default_params(&def); p = &def; }
    SV_CHECK_ARG(p->size == sizeof *p, "simvtp_model_params.size mismatch (use simvtp_model_default_params)");
    const sv_backend *be;
    SV_TRY(sv_backend_get(p->backend, &be));
    uint8_t *buf;
    size_t size;
    SV_TRY(sv_read_file(path, &buf, &size));
    svtp_header h;
    int rc = parse_header(buf, size, path, &h);
    simvtp_model *m = NULL;
    if (!rc) rc = check_payload_size(&h, size, path);
    if (!rc) rc = sv_model_alloc(&h.cfg, (int)h.kind, be, &m);
    if (!rc) rc = fill_tensors(m, buf, size, path, &h);
    free(buf);
    if (rc) { simvtp_model_free(m); return rc; }
    *out = m;
    return SIMVTP_OK;
}

int simvtp_model_load_into(simvtp_model *m, const char *path)
{
    sv_clear_error();
    SV_CHECK_ARG(m && path, "simvtp_model_load_into: model and path must not be NULL");
    uint8_t *buf;
    size_t size;
    SV_TRY(sv_read_file(path, &buf, &size));
    svtp_header h;
    int rc = parse_header(buf, size, path, &h);
    if (!rc && h.kind != (uint32_t)m->kind)
        rc = sv_fail(SIMVTP_ERR_MISMATCH, "%s holds a %s model; this handle is a %s model", path,
                     h.kind == SIMVTP_MODEL_PRETRAIN ? "pretraining" : "retrieval",
                     m->kind == SIMVTP_MODEL_PRETRAIN ? "pretraining" : "retrieval");
    if (!rc) {
        const char *diff = sv_config_first_difference(&h.cfg, &m->cfg);
        if (diff)
            rc = sv_fail(SIMVTP_ERR_MISMATCH, "%s was saved for another config (field %s differs)", path, diff);
    }
    /* Keep a copy first so that a damaged file leaves m untouched. */
    const sv_backend *be = m->be;
    float *backup = NULL;
    if (!rc) rc = be->activate(be);
    if (!rc) {
        backup = be->alloc(m->nparams * sizeof(float));
        if (!backup) rc = sv_fail(SIMVTP_ERR_NOMEM, "out of memory loading %s", path);
        else be->copy(backup, m->params, m->nparams * sizeof(float));
    }
    if (!rc) {
        rc = fill_tensors(m, buf, size, path, &h);
        if (rc) be->copy(m->params, backup, m->nparams * sizeof(float));
    }
    if (backup) {
        be->free(backup);
        int frc = be->finish(be);
        if (!rc) rc = frc;
    }
    free(buf);
    return rc;
}
