// example.cpp — libsimvtp from C++11: the C API behind small RAII owners.
// Makes the "tiny" SimVTP model, runs two training steps on generated clips
// and captions, prints the losses. Build with the Makefile beside it.
#include <simvtp/simvtp.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

const std::int32_t kTokenCls = 101;  // BERT's [CLS]
const std::int32_t kTokenSep = 102;  // BERT's [SEP]
const std::int32_t kFirstWord = 104; // first id after the special tokens

// Throws with the status name and the library's detail message.
void check(int status, const char *what)
{
    if (status != SIMVTP_OK)
        throw std::runtime_error(std::string(what) + ": " + simvtp_strerror(status) + ": " +
                                 simvtp_last_error());
}

struct ModelFree {
    void operator()(simvtp_model *m) const { simvtp_model_free(m); }
};
struct OptimizerFree {
    void operator()(simvtp_optimizer *o) const { simvtp_optimizer_free(o); }
};
typedef std::unique_ptr<simvtp_model, ModelFree> Model;
typedef std::unique_ptr<simvtp_optimizer, OptimizerFree> Optimizer;

} // namespace

int main()
{
    try {
        const int batch = 2, max_len = 8;
        std::printf("libsimvtp %s (C++)\n", simvtp_version_string());

        simvtp_config cfg;
        check(simvtp_config_preset("tiny", &cfg), "simvtp_config_preset");

        simvtp_model_params mp;
        simvtp_model_default_params(&mp);
        mp.seed = 42;
        simvtp_model *raw_model = nullptr;
        check(simvtp_model_create(&cfg, &mp, &raw_model), "simvtp_model_create");
        Model model(raw_model);

        simvtp_optimizer_params op;
        simvtp_optimizer_default_params(&op);
        op.lr = 1e-3f;
        simvtp_optimizer *raw_opt = nullptr;
        check(simvtp_optimizer_create(model.get(), &op, &raw_opt), "simvtp_optimizer_create");
        Optimizer opt(raw_opt);

        const std::size_t clip_bytes = static_cast<std::size_t>(cfg.frames) * cfg.height *
                                       cfg.width * 3;
        std::vector<std::uint8_t> frames(clip_bytes * batch);
        for (std::size_t i = 0; i < frames.size(); i++)
            frames[i] = static_cast<std::uint8_t>((i * 5 + i / 7) & 0xff);
        std::vector<std::int32_t> tokens(static_cast<std::size_t>(batch) * max_len, 0);
        std::vector<std::int32_t> lengths(batch);
        for (int s = 0; s < batch; s++) {
            std::int32_t *row = &tokens[static_cast<std::size_t>(s) * max_len];
            lengths[s] = max_len - s;
            row[0] = kTokenCls;
            for (int j = 1; j < lengths[s] - 1; j++)
                row[j] = kFirstWord + (s * 13 + j * 29) % (cfg.vocab_size - kFirstWord);
            row[lengths[s] - 1] = kTokenSep;
        }

        simvtp_batch b;
        std::memset(&b, 0, sizeof b);
        b.size = sizeof b;
        b.batch = batch;
        b.frames = frames.data();
        b.max_len = max_len;
        b.tokens = tokens.data();
        b.lengths = lengths.data();

        for (int step = 1; step <= 2; step++) {
            simvtp_losses l;
            std::memset(&l, 0, sizeof l);
            l.size = sizeof l;
            check(simvtp_train_step(opt.get(), &b, &l, nullptr), "simvtp_train_step");
            std::printf("step %d: loss %.4f (video %.4f, mlm %.4f, vtc %.4f, vtm %.4f)\n", step,
                        l.total, l.video_mse, l.mlm, l.vtc, l.vtm);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "example-cpp: %s\n", e.what());
        return 1;
    }
    return 0;
}
