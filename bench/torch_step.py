#!/usr/bin/python3
# bench/torch_step.py -- the SimVTP training step of bench/bench_step.c in PyTorch (CPU, fp32).
#
#   /usr/bin/python3 bench/torch_step.py [--preset small] [--batch 8] [--steps N] [--warmup W]
#                                        [--threads 2] [--finetune] [--seed 1] [--upstream-graph]
#
# The model is the independent PyTorch reference of the parity tests
# (tests/parity/simvtp_ref.py: SimVTP, Block, vtc_loss, no_decay ...), fed with
# inputs drawn here the way libsimvtp draws them (tube masks, 75% text masking, embedding
# dropout, VTM negatives; fine-tuning: drop path rising over depth).  One step =
# zero_grad + forward + backward + torch.optim.AdamW.step, as simvtp_train_step.
#
# Pretraining step: by default the FLOP-matched graph of libsimvtp (patch embedding of the
# visible tubelets only, MLM head on the masked text positions only).  --upstream-graph runs
# the reference's own SimVTP.pretrain instead, which (like VideoMAE / the released SimVTP
# code) embeds all tubelets before dropping the masked ones and applies the MLM head to every
# text position: same losses, more work.
#
# Captions come from the same splitmix64 stream as bench_step.c (same lengths, same ids).
# Prints: RESULT impl=pytorch-1.13 mode=... preset=... batch=... threads=... steps=...
#         sec_per_step=... clips_per_sec=... median_sec=... min_sec=... cpu_sec=... others_cpu=...
#         total=... video_mse=... mlm=... vtc=... vtm=...
# (fields as in bench_step.c: mean, median and min step time, CPU time of all our threads per
# step, and the CPU share that other processes took meanwhile).
import argparse, math, os, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import simvtp_ref as ref  # noqa: E402  (sets torch threads to 2; main() overrides)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# Presets of libsimvtp/core/config.c (set_common + the preset's block).
COMMON_I = dict(tubelet=2, patch=16, vocab_size=30522, type_vocab=2, vtc_pool_exclude_pad=0)
COMMON_F = dict(video_mask_ratio=0.9, text_mask_ratio=0.75, ln_eps=1e-6, text_ln_eps=1e-12,
                text_dropout=0.1, vtc_temperature=0.05, drop_path=0.1)
PRESETS = {
    "vit-b": dict(frames=16, height=224, width=224, enc_width=768, enc_depth=12, enc_heads=12,
                  enc_mlp=3072, dec_width=384, dec_depth=4, dec_heads=6, dec_mlp=1536, max_text_len=512),
    "small": dict(frames=8, height=96, width=96, enc_width=256, enc_depth=4, enc_heads=4,
                  enc_mlp=1024, dec_width=128, dec_depth=2, dec_heads=4, dec_mlp=512, max_text_len=64),
    "tiny": dict(frames=8, height=64, width=64, enc_width=128, enc_depth=2, enc_heads=4,
                 enc_mlp=512, dec_width=64, dec_depth=1, dec_heads=2, dec_mlp=256, max_text_len=32),
}
POOL, LEN_MIN, LEN_MAX, ID_LO, ID_HI = 4, 12, 20, 1000, 30000
CLS, SEP, PAD, MASK = 101, 102, 0, 103
M64 = (1 << 64) - 1


def make_cfg(name):
    vals = dict(COMMON_I, **COMMON_F, **PRESETS[name])
    ci = [vals[k] for k in ref.CFG_I]
    cf = [float(np.float32(vals[k])) for k in ref.CFG_F]  # the C config holds float32 values
    return ref.Cfg(ci, cf)


class SplitMix64:  # the caption stream of bench_step.c
    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def batch_pool(c, B, seed):
    st, rng, pool = SplitMix64(0x5EED + seed), np.random.default_rng(seed), []
    for _ in range(POOL):
        lens = [LEN_MIN + st.next() % (LEN_MAX - LEN_MIN + 1) for _ in range(B)]
        L = max(lens)
        tok = np.zeros((B, L), np.int64)
        for b in range(B):
            tok[b, 0], tok[b, lens[b] - 1] = CLS, SEP
            for l in range(1, lens[b] - 1):
                tok[b, l] = ID_LO + st.next() % (ID_HI - ID_LO)
        frames = rng.integers(0, 256, (B, c.frames, c.height, c.width, 3), dtype=np.uint8)
        pool.append((torch.from_numpy(frames), torch.from_numpy(tok), torch.tensor(lens)))
    return pool


# ----------------------------------------------------------------------------- per-step draws
def dropmask(B, L, D, p):
    return (torch.rand(B, L, D) >= p).float() / (1.0 - p)


def pretrain_inputs(c, frames, tok, lens):
    B, L = tok.shape
    tslices, nm = c.n_tok // c.grid, int(c.video_mask_ratio * c.grid)
    masked = torch.zeros(B, c.grid, dtype=torch.bool)
    for b in range(B):
        masked[b, torch.randperm(c.grid)[:nm]] = True
    m = masked.repeat(1, tslices)  # tube mask, [B, N]
    ar = torch.arange(c.n_tok).expand(B, -1)
    vis_idx = ar[~m].reshape(B, -1)
    mask_idx = ar[m].reshape(B, -1)
    pos = torch.arange(L)[None]
    tm = (torch.rand(B, L) < c.text_mask_ratio) & (pos > 0) & (pos < lens[:, None] - 1)
    neg = (torch.arange(B) + torch.randint(1, B, (B,))) % B
    return {"frames": frames, "tokens": tok, "lengths": lens, "vis_idx": vis_idx, "mask_idx": mask_idx,
            "text_input": torch.where(tm, torch.full_like(tok, MASK), tok),
            "text_labels": torch.where(tm, tok, torch.full_like(tok, -100)),
            "text_dropmask": dropmask(B, L, c.enc_width, c.text_dropout), "vtm_neg": neg}


def finetune_inputs(c, frames, tok, lens):
    B, L = tok.shape
    rates = [c.drop_path * i / max(c.enc_depth - 1, 1) for i in range(c.enc_depth)]
    dp = lambda: torch.stack([(torch.rand(2, B) >= r).float() / (1 - r) for r in rates])
    return {"frames": frames, "tokens": tok, "lengths": lens,
            "text_dropmask": dropmask(B, L, c.enc_width, c.text_dropout),
            "droppath_video": dp(), "droppath_text": dp()}


# ----------------------------------------------------------------------------- matched graph
def pretrain_matched(model, st):
    """ref.SimVTP.pretrain with libsimvtp's FLOPs: the patch embedding sees only the
       visible tubelets, the MLM head only the masked text positions."""
    c, enc, dec = model.c, model.encoder, model.decoder
    frames, vis_idx, mask_idx = st["frames"], st["vis_idx"], st["mask_idx"]
    B, T, H, W, _ = frames.shape
    u, p = c.tubelet, c.patch
    rows = torch.arange(B)[:, None]
    mean, std = torch.tensor(ref.IMNET_MEAN), torch.tensor(ref.IMNET_STD)
    x = ((frames.float() / 255 - mean) / std).reshape(B, T // u, u, H // p, p, W // p, p, 3)
    x = x.permute(0, 1, 3, 5, 7, 2, 4, 6).reshape(B, c.n_tok, -1)  # Conv3d weight order (c,dt,dy,dx)
    conv = enc.patch_embed.proj
    vis = F.linear(x[rows, vis_idx], conv.weight.flatten(1), conv.bias) + model.pe_enc[vis_idx]
    txt = model.embed_text(model.text_embeddings, st["text_input"], st["text_dropmask"])
    Nv, L = vis.shape[1], txt.shape[1]
    pad = torch.arange(L)[None] >= st["lengths"][:, None]
    jpad = torch.cat([torch.zeros(B, Nv, dtype=torch.bool), pad], 1)
    run = lambda h, msk: enc.norm(enc(h, msk))
    joint = run(torch.cat([vis, txt], 1), jpad)
    y = torch.cat([model.encoder_to_decoder(joint[:, :Nv]) + model.pe_dec[vis_idx],
                   model.mask_token + model.pe_dec[mask_idx]], 1)
    pred = dec.head(dec.norm(dec(y))[:, Nv:])
    mse = F.mse_loss(pred, model.pixel_target(frames)[rows, mask_idx])
    lab = st["text_labels"]
    sel = lab != -100
    mlm = F.cross_entropy(model.mlm_head(joint[:, Nv:][sel]), lab[sel])
    vtc = ref.vtc_loss(model.pool_text(run(txt, pad), pad), run(vis, None).mean(1), c.vtc_temperature)
    neg = run(torch.cat([vis[st["vtm_neg"]], txt], 1), jpad)
    logits = model.vtm_head(torch.cat([joint, neg]).mean(1))
    vtm = F.cross_entropy(logits, torch.cat([torch.ones(B), torch.zeros(B)]).long())
    return torch.stack([mse + mlm + vtc + vtm, mse, mlm, vtc, vtm])


def machine_busy_jiffies():
    """(busy jiffies of the whole machine, number of CPUs) from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
        v = [int(x) for x in lines[0].split()[1:9]]
        return v[0] + v[1] + v[2] + v[5] + v[6] + v[7], sum(1 for l in lines[1:] if l.startswith("cpu"))
    except (OSError, ValueError, IndexError):
        return None, 0


def self_jiffies():
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


def main():
    ap = argparse.ArgumentParser(description="SimVTP training-step throughput in PyTorch")
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--finetune", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--upstream-graph", action="store_true",
                    help="run simvtp_ref.SimVTP.pretrain verbatim (all-tubelet patch embed, MLM on all positions)")
    a = ap.parse_args()
    if a.batch < 2 or a.steps < 1 or a.warmup < 0 or a.threads < 1:
        ap.error("need --batch >= 2, --steps >= 1, --warmup >= 0, --threads >= 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = make_cfg(a.preset)
    kind = 1 if a.finetune else 0
    model = ref.SimVTP(c, kind)
    with torch.no_grad():  # SPEC's from-scratch init (values do not matter for timing)
        for n, p in model.named_parameters():
            if p.ndim >= 2 and "embeddings" not in n and "mask_token" not in n:
                torch.nn.init.xavier_uniform_(p.flatten(1) if p.ndim > 2 else p)
            elif p.ndim >= 2:
                torch.nn.init.trunc_normal_(p, std=0.02)
            elif n.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
    named = list(model.named_parameters())
    wd = 0.05
    groups = [{"params": [p for n, p in named if not ref.no_decay(n, p)], "weight_decay": wd},
              {"params": [p for n, p in named if ref.no_decay(n, p)], "weight_decay": 0.0}]
    betas = (0.9, 0.999) if a.finetune else (0.9, 0.95)
    opt = torch.optim.AdamW(groups, lr=7.5e-5 if a.finetune else 1.5e-4, betas=betas, eps=1e-8)
    pool = batch_pool(c, a.batch, a.seed)
    draw = finetune_inputs if a.finetune else pretrain_inputs
    if a.finetune or a.upstream_graph:
        fwd = model
    else:
        fwd = lambda st: pretrain_matched(model, st)

    out, t0, busy0, self0, ncpu, dts = None, 0.0, None, None, 0, []
    for s in range(a.warmup + a.steps):
        if s == a.warmup:
            (busy0, ncpu), self0 = machine_busy_jiffies(), self_jiffies()
            t0 = time.perf_counter()  # CLOCK_MONOTONIC
        ts = time.perf_counter()
        st = draw(c, *pool[s % POOL])
        opt.zero_grad(set_to_none=True)
        out = fwd(st)
        out[0].backward()
        opt.step()
        if s >= a.warmup:
            dts.append(time.perf_counter() - ts)
    wall = time.perf_counter() - t0
    sec = wall / a.steps
    busy1, self1 = machine_busy_jiffies()[0], self_jiffies()
    others = -1.0
    if None not in (busy0, busy1, self0, self1) and ncpu and wall > 0:
        others = max(0.0, ((busy1 - busy0) - (self1 - self0)) / os.sysconf("SC_CLK_TCK") / (wall * ncpu))
    cpu = (self1 - self0) / os.sysconf("SC_CLK_TCK") / a.steps if None not in (self0, self1) else -1.0
    med = float(np.median(dts))
    lo = out.detach().tolist()
    mode = "finetune" if a.finetune else ("pretrain-upstream" if a.upstream_graph else "pretrain")
    print(f"RESULT impl=pytorch-{'.'.join(torch.__version__.split('.')[:2])} mode={mode} preset={a.preset} "
          f"batch={a.batch} threads={a.threads} steps={a.steps} sec_per_step={sec:.4f} "
          f"clips_per_sec={a.batch / sec:.3f} median_sec={med:.4f} min_sec={min(dts):.4f} cpu_sec={cpu:.4f} others_cpu={others:.3f} "
          f"total={lo[0]:.5f} video_mse={lo[1]:.5f} mlm={lo[2]:.5f} "
          f"vtc={lo[3]:.5f} vtm={lo[4]:.5f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
