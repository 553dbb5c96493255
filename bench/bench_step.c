/* bench/bench_step.c — training-step throughput of libsimvtp (public API only).
 *
 *   bench_step [--preset small] [--batch 8] [--steps 20] [--warmup 3]
 *              [--threads 0] [--finetune] [--seed 1]
 *              [--backend cpu|cuda:N|cuda:N:fp32] [--peak-tflops 989]
 *
 * Builds the preset's pretraining model (or, with --finetune, the two-tower
 * retrieval model made from it), an AdamW optimizer, and a small pool of
 * random batches (uint8 frames; captions [CLS] w... [SEP] with 12..20 tokens,
 * word ids in [1000, 30000), padded to the longest caption of the batch).
 * Runs --warmup untimed steps, then --steps timed simvtp_train_step calls
 * (CLOCK_MONOTONIC), and prints one machine-readable line:
 *
 *   RESULT impl=libsimvtp mode=pretrain preset=small batch=8 threads=2 steps=20
 *          sec_per_step=... clips_per_sec=... median_sec=... min_sec=... cpu_sec=... others_cpu=...
 *          total=... video_mse=... mlm=... vtc=... vtm=...
 *          backend=cpu gflop_per_step=... tflops=... mfu=... peak_mem_gib=...
 *
 * (one line; exit 77 when --backend names a backend this build or machine
 * lacks). sec_per_step is the mean over the timed steps, median_sec and
 * min_sec are per-step statistics, cpu_sec the CPU time (all threads, spin
 * waits included) per step, others_cpu is the fraction of the
 * machine's CPU time that OTHER processes used meanwhile (from /proc/stat;
 * -1 if unavailable) -- on a shared machine, a result with others_cpu well
 * above 0 is disturbed. The losses are those of the last step. The captions come from a
 * splitmix64 stream that bench/torch_step.py reproduces, so both sides see the
 * same text lengths step by step.
 *
 * GPU fields. tflops = model FLOPs per step (sv_step_flops below, averaged
 * over the timed steps' batches) / mean step time; mfu = tflops /
 * --peak-tflops (default 989: H100/H200 SXM dense bf16; pass the fp32 peak
 * for "cuda:N:fp32" runs); mfu is -1 on the CPU unless --peak-tflops is
 * given. checkpoint: the activation checkpointing mode (1 with --checkpoint,
 * whole blocks; 2 with --checkpoint-selective).
 * max_rss_gib: the process's peak resident memory (getrusage; on the CPU
 * the activations live there). peak_mem_gib (CUDA backends only, else -1): the largest device
 * memory in use during the warmup steps (sampled every 200 us by a thread,
 * so that the activations inside a step are seen; no sampling while timing)
 * and after each step, minus what was in use before the model was created
 * (the CUDA context is in that baseline): the library's weights, gradients,
 * optimizer moments, activations and library workspaces, as allocated from
 * the device (comparable to torch.cuda.max_memory_reserved, an upper bound
 * of max_memory_allocated). Read through bench/devmem.c (the driver API,
 * loaded at run time). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "simvtp/simvtp.h"
#include "devmem.h"

#define POOL 4          /* distinct batches, cycled */
#define LEN_MIN 12
#define LEN_MAX 20
#define ID_LO 1000
#define ID_HI 30000

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The process's peak resident memory in GiB (Linux: ru_maxrss in KiB). */
static double max_rss_gib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1.0;
    return (double)ru.ru_maxrss / (1024.0 * 1024.0);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Jiffies the whole machine spent busy (not idle/iowait) and the number of CPUs. */
static double machine_busy_jiffies(int *ncpu)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    double busy = -1.0;
    int n = 0;
    if (!f) return -1.0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v[10] = {0};
        if (!strncmp(line, "cpu ", 4)) {
            if (sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                       &v[4], &v[5], &v[6], &v[7]) >= 4)
                busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);   /* minus idle, iowait */
        } else if (!strncmp(line, "cpu", 3)) {
            n++;
        }
    }
    fclose(f);
    if (ncpu) *ncpu = n;
    return busy;
}

/* Jiffies this process (all threads) has run. */
static double self_jiffies(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    char buf[1024];
    double j = -1.0;
    if (!f) return -1.0;
    if (fgets(buf, sizeof buf, f)) {
        const char *p = strrchr(buf, ')');   /* comm may contain spaces */
        unsigned long long ut, st;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
            j = (double)(ut + st);
    }
    fclose(f);
    return j;
}

/* ------------------------------------------------------------------------
 * Model FLOPs of one training step (forward + backward), from the config.
 * Only the matrix products are counted (2 FLOPs per multiply-add; norms,
 * softmax, GELU, embeddings lookups and the optimizer are ignored), each at
 * its full size (padded text positions and masked keys included, which is
 * what the kernels compute). A product that needs the gradients of both of
 * its inputs costs 3x its forward (forward, input gradient, weight
 * gradient); the patch embedding, whose input is data, costs 2x.
 *
 *   layer(S, D, F) = 2 S (4 D^2 + 2 D F)  +  4 S^2 D
 *                    (qkv 3D^2 + proj D^2 + fc1/fc2 2DF;   QK^T and PV)
 *   N = video tokens, Nv = visible tokens, Nm = N - Nv, K = tubelet dim,
 *   L = padded caption length of the batch, Lm = masked text tokens (the
 *   expectation text_mask_ratio * sum_b (len_b - 2): masking is random),
 *   D/F/depth = encoder width/MLP/depth, Dd/Fd/dd = the decoder's, V = vocab.
 *
 * Pretraining, forward (x3 except the patch embedding, x2):
 *   patch embedding of visible tubelets   2 B Nv K D
 *   encoder, four passes of depth layers  B depth [layer(Nv+L) joint + layer(L) text
 *                                           + layer(Nv) video + layer(Nv+L) VTM negatives]
 *   encoder_to_decoder                    2 B Nv D Dd
 *   decoder on all N tokens               B dd layer(N, Dd, Fd)
 *   decoder head on masked tubelets       2 B Nm Dd K
 *   MLM head on masked text tokens        2 Lm D V
 *   VTC similarities, VTM head            2 B B D + 2 (2B) D 2
 * Fine-tuning (retrieval), forward:
 *   patch embedding of all tubelets       2 B N K D   (x2)
 *   video tower, text tower               B depth [layer(N) + layer(L)]
 *   VTC similarities                      2 B B D
 * bench/torch_step_gpu.py computes the same numbers (step_flops there).
 * ------------------------------------------------------------------------ */
static double layer_flops(double S, double D, double F)
{
    return 2.0 * S * (4.0 * D * D + 2.0 * D * F) + 4.0 * S * S * D;
}

static double sv_step_flops(const simvtp_config *c, int B, int L, double masked_text, int finetune)
{
    const double N = simvtp_config_num_video_tokens(c), Nv = simvtp_config_num_visible_tokens(c);
    const double K = simvtp_config_tubelet_dim(c), D = c->enc_width, F = c->enc_mlp;
    const double depth = c->enc_depth, b = B, l = L;
    if (finetune) {
        const double patch = 2.0 * b * N * K * D;
        const double rest = b * depth * (layer_flops(N, D, F) + layer_flops(l, D, F)) + 2.0 * b * b * D;
        return 2.0 * patch + 3.0 * rest;
    }
    const double Dd = c->dec_width, Fd = c->dec_mlp, dd = c->dec_depth, Nm = N - Nv;
    const double patch = 2.0 * b * Nv * K * D;
    double rest = b * depth * (2.0 * layer_flops(Nv + l, D, F) + layer_flops(l, D, F) + layer_flops(Nv, D, F));
    rest += 2.0 * b * Nv * D * Dd + b * dd * layer_flops(N, Dd, Fd) + 2.0 * b * Nm * Dd * K;
    rest += 2.0 * masked_text * D * c->vocab_size + 2.0 * b * b * D + 2.0 * (2.0 * b) * D * 2.0;
    return 2.0 * patch + 3.0 * rest;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_step [--preset NAME] [--batch B] [--steps N] [--warmup W]\n"
            "                  [--threads T] [--finetune] [--checkpoint[-selective]] [--seed S]\n"
            "                  [--backend NAME] [--peak-tflops P]\n"
            "  --preset   vit-b | small | tiny (default small)\n"
            "  --batch    clips per step (default 8)\n"
            "  --steps    timed steps (default 20)\n"
            "  --warmup   untimed steps first (default 3)\n"
            "  --threads  OpenMP threads (simvtp_model_params.threads; 0 = OpenMP default)\n"
            "  --finetune benchmark the retrieval (two-tower) step instead of pretraining\n"
            "  --checkpoint  with activation checkpointing (SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS)\n"
            "  --checkpoint-selective  with selective checkpointing (LayerNorm and GELU outputs)\n"
            "  --seed     seed of the data, weights and optimizer streams (default 1)\n"
            "  --backend  cpu (default), cuda:N (bf16 matrix inputs) or cuda:N:fp32\n"
            "  --peak-tflops  the device's peak for mfu (default 989, H100/H200 dense bf16)\n");
}

static int parse_int(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "bench_step: %s needs an integer in [%ld, %ld]\n", flag, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

#define CHECK(call)                                                                       \
    do {                                                                                  \
        int rc_ = (call);                                                                 \
        if (rc_ != SIMVTP_OK) {                                                           \
            fprintf(stderr, "bench_step: %s failed: %s: %s\n", #call, simvtp_strerror(rc_), \
                    simvtp_last_error());                                                 \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

int main(int argc, char **argv)
{
    const char *preset = "small", *backend = "cpu";
    long B = 8, steps = 20, warmup = 3, threads = 0, seed = 1;
    int finetune = 0, peak_given = 0, ckpt = 0;
    double peak_tflops = 989.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--preset") && v) { preset = v; i++; }
        else if (!strcmp(a, "--batch")) { rc = parse_int(a, v, 2, 4096, &B); i++; }
        else if (!strcmp(a, "--steps")) { rc = parse_int(a, v, 1, 1000000, &steps); i++; }
        else if (!strcmp(a, "--warmup")) { rc = parse_int(a, v, 0, 1000000, &warmup); i++; }
        else if (!strcmp(a, "--threads")) { rc = parse_int(a, v, 0, 4096, &threads); i++; }
        else if (!strcmp(a, "--seed")) { rc = parse_int(a, v, 0, 1L << 30, &seed); i++; }
        else if (!strcmp(a, "--finetune")) finetune = 1;
        else if (!strcmp(a, "--checkpoint")) ckpt = SIMVTP_CHECKPOINT_BLOCKS;
        else if (!strcmp(a, "--checkpoint-selective")) ckpt = SIMVTP_CHECKPOINT_SELECTIVE;
        else if (!strcmp(a, "--backend") && v) { backend = v; i++; }
        else if (!strcmp(a, "--peak-tflops") && v) {
            char *end;
            peak_tflops = strtod(v, &end);
            if (*end || !(peak_tflops > 0)) { fprintf(stderr, "bench_step: --peak-tflops needs a number > 0\n"); return 2; }
            peak_given = 1;
            i++;
        }
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else { fprintf(stderr, "bench_step: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
        if (rc) return 2;
    }

    simvtp_config cfg;
    CHECK(simvtp_config_preset(preset, &cfg));
    if (cfg.max_text_len < LEN_MAX) {
        fprintf(stderr, "bench_step: preset %s allows only %d text tokens (need %d)\n", preset,
                cfg.max_text_len, LEN_MAX);
        return 1;
    }
    simvtp_model_params mp;
    simvtp_model_default_params(&mp);
    mp.seed = (uint64_t)seed;
    mp.threads = (int)threads;
    mp.backend = backend;
    /* device memory: the baseline before the model exists (CUDA backends) */
    int on_cuda = !strncmp(backend, "cuda", 4), have_mem = 0;
    size_t mem_base = 0;
    if (on_cuda) {
        const int ordinal = backend[4] == ':' ? atoi(backend + 5) : 0;
        have_mem = devmem_open(ordinal) == 0 && devmem_used(&mem_base, NULL) == 0;
        if (!have_mem) fprintf(stderr, "bench_step: no device memory figures: %s\n", devmem_why());
    }
    simvtp_model *pre = NULL, *model = NULL;
    {
        const int rc = simvtp_model_create(&cfg, &mp, &pre);
        if (rc == SIMVTP_ERR_UNSUPPORTED) { /* e.g. cuda:0 without CUDA or a device: meson's skip */
            fprintf(stderr, "bench_step: backend %s unavailable: %s\n", backend, simvtp_last_error());
            return 77;
        }
        CHECK(rc);
    }
    if (finetune) {
        CHECK(simvtp_model_create_retrieval(pre, &mp, &model));
        simvtp_model_free(pre);
        pre = NULL;
    } else {
        model = pre;
    }

    if (ckpt) CHECK(simvtp_model_set_option(model, SIMVTP_MODEL_OPT_CHECKPOINT_ACTIVATIONS, ckpt));

    simvtp_optimizer_params op;
    simvtp_optimizer_default_params(&op);
    op.seed = (uint64_t)seed;
    if (finetune) { op.lr = 7.5e-5f; op.beta2 = 0.999f; }   /* SPEC fine-tuning recipe */
    simvtp_optimizer *opt = NULL;
    CHECK(simvtp_optimizer_create(model, &op, &opt));

    /* The batch pool. */
    const size_t clip = (size_t)cfg.frames * cfg.height * cfg.width * 3;
    uint8_t *frames[POOL];
    int32_t *tokens[POOL], *lengths[POOL];
    int maxlen[POOL];
    uint64_t st = 0x5EEDull + (uint64_t)seed;   /* caption stream (mirrored in torch_step.py) */
    uint64_t fst = 0xF00Dull + (uint64_t)seed;  /* frame bytes */
    for (int k = 0; k < POOL; k++) {
        frames[k] = malloc(clip * (size_t)B);
        tokens[k] = calloc((size_t)B * LEN_MAX, sizeof(int32_t));
        lengths[k] = malloc((size_t)B * sizeof(int32_t));
        if (!frames[k] || !tokens[k] || !lengths[k]) { fprintf(stderr, "bench_step: out of memory\n"); return 1; }
        for (size_t i = 0; i < clip * (size_t)B; i += 8) {
            uint64_t r = splitmix64(&fst);
            size_t n = clip * (size_t)B - i < 8 ? clip * (size_t)B - i : 8;
            memcpy(frames[k] + i, &r, n);
        }
        maxlen[k] = 0;
        for (int b = 0; b < B; b++) {
            int len = LEN_MIN + (int)(splitmix64(&st) % (LEN_MAX - LEN_MIN + 1));
            lengths[k][b] = len;
            if (len > maxlen[k]) maxlen[k] = len;
        }
        /* Row stride = the batch's longest caption (padding to the longest). */
        for (int b = 0; b < B; b++) {
            int32_t *row = tokens[k] + (size_t)b * maxlen[k];
            row[0] = 101;
            for (int l = 1; l < lengths[k][b] - 1; l++)
                row[l] = ID_LO + (int32_t)(splitmix64(&st) % (ID_HI - ID_LO));
            row[lengths[k][b] - 1] = 102;
        }
    }

    simvtp_losses loss = {sizeof loss, 0, 0, 0, 0, 0, 0};
    simvtp_step_info info = {sizeof info, 0, 0, 0, 0, 0};
    double *dt = malloc((size_t)steps * sizeof(double));
    if (!dt) { fprintf(stderr, "bench_step: out of memory\n"); return 1; }
    double t0 = 0.0, busy0 = 0.0, self0 = 0.0, flops = 0.0;
    int ncpu = 0;
    if (have_mem) {
        devmem_sample();
        devmem_poll_start(200); /* through the warmup steps (all steps if there are none) */
    }
    for (long s = 0; s < warmup + steps; s++) {
        if (s == warmup) {
            if (have_mem && warmup > 0) devmem_poll_stop();
            busy0 = machine_busy_jiffies(&ncpu);
            self0 = self_jiffies();
            t0 = now_sec();
        }
        const int k = (int)(s % POOL);
        simvtp_batch b = {sizeof b, (int)B, frames[k], maxlen[k], tokens[k], lengths[k]};
        const double ts = now_sec();
        CHECK(simvtp_train_step(opt, &b, &loss, &info));
        if (s >= warmup) {
            dt[s - warmup] = now_sec() - ts;
            double lm = 0.0;
            for (int i = 0; i < B; i++) lm += lengths[k][i] - 2;
            flops += sv_step_flops(&cfg, (int)B, maxlen[k], (double)cfg.text_mask_ratio * lm, finetune);
        }
        if (have_mem) devmem_sample();
    }
    if (have_mem) devmem_poll_stop();
    const double wall = now_sec() - t0, sec = wall / (double)steps;
    /* CPU share the rest of the machine took while we ran (0 = we had it alone). */
    const double hz = (double)sysconf(_SC_CLK_TCK);
    const double busy1 = machine_busy_jiffies(NULL), self1 = self_jiffies();
    const double cpu_step = self0 >= 0 && self1 >= 0 ? (self1 - self0) / hz / (double)steps : -1.0;
    double others = -1.0;
    if (busy0 >= 0 && busy1 >= 0 && self0 >= 0 && self1 >= 0 && ncpu > 0 && wall > 0) {
        others = ((busy1 - busy0) - (self1 - self0)) / hz / (wall * ncpu);
        if (others < 0) others = 0;
    }
    qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
    const double med = steps % 2 ? dt[steps / 2] : 0.5 * (dt[steps / 2 - 1] + dt[steps / 2]);

    const char *env = getenv("OMP_NUM_THREADS");
    int nthr = threads > 0 ? (int)threads : (env && atoi(env) > 0 ? atoi(env) : 0);
    const double flops_step = flops / (double)steps, tflops = flops_step / sec / 1e12;
    const double mfu = on_cuda || peak_given ? tflops / peak_tflops : -1.0;
    const double mem_gib = have_mem ? (double)(devmem_peak() - mem_base) / (1024.0 * 1024.0 * 1024.0) : -1.0;
    printf("RESULT impl=libsimvtp mode=%s preset=%s batch=%ld threads=%d steps=%ld "
           "sec_per_step=%.4f clips_per_sec=%.3f median_sec=%.4f min_sec=%.4f cpu_sec=%.4f others_cpu=%.3f "
           "total=%.5f video_mse=%.5f mlm=%.5f vtc=%.5f vtm=%.5f "
           "backend=%s gflop_per_step=%.1f tflops=%.3f mfu=%.4f peak_mem_gib=%.3f checkpoint=%d "
           "max_rss_gib=%.3f\n",
           finetune ? "finetune" : "pretrain", preset, B, nthr, steps, sec, (double)B / sec, med,
           dt[0], cpu_step, others, loss.total, loss.video_mse, loss.mlm, loss.vtc, loss.vtm,
           backend, flops_step / 1e9, tflops, mfu, mem_gib, ckpt, max_rss_gib());
    fflush(stdout);

    simvtp_optimizer_free(opt);
    simvtp_model_free(model);
    if (on_cuda) devmem_close();
    free(dt);
    for (int k = 0; k < POOL; k++) { free(frames[k]); free(tokens[k]); free(lengths[k]); }
    return 0;
}
