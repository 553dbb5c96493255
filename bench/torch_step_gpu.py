#!/usr/bin/env python3
# bench/torch_step_gpu.py -- the SimVTP training step of bench/bench_step.c in PyTorch on a GPU.
#
#   python3 bench/torch_step_gpu.py [--preset vit-b] [--batch 16] [--steps 20] [--warmup 5]
#                                   [--modes pretrain,finetune] [--variants fp32,bf16,compile]
#                                   [--seed 1] [--peak-tflops 989] [--time-budget SEC]
#
# The model is the independent PyTorch reference of the parity tests (tests/parity/simvtp_ref.py:
# SimVTP, Block, no_decay ...), as bench/torch_step.py (its CPU peer) uses it, with the step
# written for the GPU: per-step draws (tube masks, 75% text masking, embedding dropout, VTM
# negatives; fine-tuning: drop path rising over depth) are made on the device without host
# syncs, and the pretraining graph is the FLOP-matched one of libsimvtp (patch embedding of the
# visible tubelets only, MLM head on the masked text positions only). One step = the batch's
# uint8 frames and captions copied from (pageable) host memory, as simvtp_train_step does, +
# zero_grad + forward + backward + AdamW (fused) step.
#
# Variants (each in turn, on a fresh model):
#   fp32     eager, float32 everywhere (TF32 off: the numbers of "cuda:N:fp32"), attention
#            as the reference writes it (softmax(QK^T/sqrt(d)) V, probabilities materialized)
#   bf16     eager, torch.autocast(bfloat16) (bf16 matrix inputs, fp32 weights: the numbers of
#            "cuda:N"), attention through F.scaled_dot_product_attention
#   compile  the bf16 variant with every transformer block compiled (torch.compile of the
#            blocks: the regional compilation PyTorch recommends for repeated blocks; the glue
#            stays eager). --compile-scope model compiles the whole loss function instead.
# --attn manual|sdpa overrides the attention of every variant.
#
# Timing: CUDA events around each step after --warmup untimed steps (compile: at least two
# passes over the batch pool, so that every shape is compiled before timing); mean and median.
# Prints, per mode and variant, a line with the fields of bench_step.c:
#   RESULT impl=pytorch-2.11-bf16 mode=pretrain preset=vit-b batch=16 steps=20 sec_per_step=...
#          clips_per_sec=... median_sec=... min_sec=... total=... video_mse=... mlm=... vtc=...
#          vtm=... backend=cuda variant=bf16 gflop_per_step=... tflops=... mfu=...
#          peak_mem_gib=... peak_reserved_gib=... status=ok
# peak_mem_gib = torch.cuda.max_memory_allocated during the run minus what was allocated
# before the model was made (weights, gradients, AdamW state, activations); peak_reserved_gib
# the same for max_memory_reserved (the caching allocator's footprint, comparable with
# bench_step's device-memory figure). A variant that fails prints status=oom or status=error.
# FLOPs per step: step_flops below, the formula of bench_step.c (sv_step_flops).
# --device cpu runs the same code on the CPU (a smoke test; CUDA events replaced by a clock).
import argparse, gc, os, statistics, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import simvtp_ref as ref  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

COMMON_I = dict(tubelet=2, patch=16, vocab_size=30522, type_vocab=2, vtc_pool_exclude_pad=0)
COMMON_F = dict(video_mask_ratio=0.9, text_mask_ratio=0.75, ln_eps=1e-6, text_ln_eps=1e-12,
                text_dropout=0.1, vtc_temperature=0.05, drop_path=0.1)
PRESETS = {  # libsimvtp/core/config.c
    "vit-b": dict(frames=16, height=224, width=224, enc_width=768, enc_depth=12, enc_heads=12,
                  enc_mlp=3072, dec_width=384, dec_depth=4, dec_heads=6, dec_mlp=1536, max_text_len=512),
    "small": dict(frames=8, height=96, width=96, enc_width=256, enc_depth=4, enc_heads=4,
                  enc_mlp=1024, dec_width=128, dec_depth=2, dec_heads=4, dec_mlp=512, max_text_len=64),
    "tiny": dict(frames=8, height=64, width=64, enc_width=128, enc_depth=2, enc_heads=4,
                 enc_mlp=512, dec_width=64, dec_depth=1, dec_heads=2, dec_mlp=256, max_text_len=32),
}
POOL, LEN_MIN, LEN_MAX, ID_LO, ID_HI = 4, 12, 20, 1000, 30000
CLS, SEP, MASK = 101, 102, 103
M64 = (1 << 64) - 1
IMNET_MEAN, IMNET_STD = ref.IMNET_MEAN, ref.IMNET_STD


def make_cfg(name):
    vals = dict(COMMON_I, **COMMON_F, **PRESETS[name])
    ci = [vals[k] for k in ref.CFG_I]
    cf = [float(np.float32(vals[k])) for k in ref.CFG_F]
    return ref.Cfg(ci, cf)


def visible_tokens(c):  # simvtp_config_num_visible_tokens
    return (c.n_tok // c.grid) * (c.grid - int(np.float32(c.video_mask_ratio) * c.grid))


# ----------------------------------------------------------------------------- FLOPs
def layer_flops(S, D, Fm):
    return 2.0 * S * (4.0 * D * D + 2.0 * D * Fm) + 4.0 * S * S * D


def step_flops(c, B, L, masked_text, finetune):
    """Model FLOPs of one forward+backward step; the formula of bench_step.c sv_step_flops."""
    N, Nv = c.n_tok, visible_tokens(c)
    K, D, Fm, depth = c.tubelet * c.patch * c.patch * 3, c.enc_width, c.enc_mlp, c.enc_depth
    if finetune:
        patch = 2.0 * B * N * K * D
        rest = B * depth * (layer_flops(N, D, Fm) + layer_flops(L, D, Fm)) + 2.0 * B * B * D
        return 2.0 * patch + 3.0 * rest
    Dd, Fd, dd, Nm = c.dec_width, c.dec_mlp, c.dec_depth, N - Nv
    patch = 2.0 * B * Nv * K * D
    rest = B * depth * (2.0 * layer_flops(Nv + L, D, Fm) + layer_flops(L, D, Fm) + layer_flops(Nv, D, Fm))
    rest += 2.0 * B * Nv * D * Dd + B * dd * layer_flops(N, Dd, Fd) + 2.0 * B * Nm * Dd * K
    rest += 2.0 * masked_text * D * c.vocab_size + 2.0 * B * B * D + 2.0 * (2.0 * B) * D * 2.0
    return 2.0 * patch + 3.0 * rest


# ----------------------------------------------------------------------------- batches
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
    """Host batches as bench_step.c makes them (same caption lengths and ids)."""
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
def pretrain_inputs(c, frames, tok, lens, dev):
    B, L = tok.shape
    G, N = c.grid, c.n_tok
    nm = int(np.float32(c.video_mask_ratio) * G)
    Nv = N - (N // G) * nm
    cells = torch.rand(B, G, device=dev).argsort(1)[:, :nm]
    masked = torch.zeros(B, G, dtype=torch.bool, device=dev).scatter_(1, cells, True)
    m = masked.repeat(1, N // G)  # tube mask [B, N]
    ar = torch.arange(N, device=dev).expand(B, -1)
    order = torch.sort(torch.where(m, ar + N, ar), 1)[0]  # visible ascending, then masked
    vis_idx, mask_idx = order[:, :Nv], order[:, Nv:] - N
    pos = torch.arange(L, device=dev)[None]
    tm = (torch.rand(B, L, device=dev) < c.text_mask_ratio) & (pos > 0) & (pos < lens[:, None] - 1)
    p = c.text_dropout
    return {"frames": frames, "tokens": tok, "lengths": lens, "vis_idx": vis_idx, "mask_idx": mask_idx,
            "text_input": torch.where(tm, torch.full_like(tok, MASK), tok),
            "text_labels": torch.where(tm, tok, torch.full_like(tok, -100)),
            "text_dropmask": (torch.rand(B, L, c.enc_width, device=dev) >= p).float() / (1.0 - p),
            "vtm_neg": (torch.arange(B, device=dev) + torch.randint(1, B, (B,), device=dev)) % B}


def finetune_inputs(c, frames, tok, lens, dev):
    B, L = tok.shape
    p = c.text_dropout
    rates = torch.tensor([c.drop_path * i / max(c.enc_depth - 1, 1) for i in range(c.enc_depth)],
                         device=dev)[:, None, None]
    dp = lambda: (torch.rand(c.enc_depth, 2, B, device=dev) >= rates).float() / (1 - rates)
    return {"frames": frames, "tokens": tok, "lengths": lens,
            "text_dropmask": (torch.rand(B, L, c.enc_width, device=dev) >= p).float() / (1.0 - p),
            "droppath_video": dp(), "droppath_text": dp()}


# ----------------------------------------------------------------------------- the step
def attention_sdpa(self, x, pad):  # replaces simvtp_ref.Attention.forward (same math)
    B, N, D = x.shape
    hd = D // self.heads
    bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
    q, k, v = F.linear(x, self.qkv.weight, bias).reshape(B, N, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
    mask = None if pad is None else ~pad[:, None, None, :]  # True = attend
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return self.proj(o.transpose(1, 2).reshape(B, N, D))


ATTENTION_MANUAL = ref.Attention.forward


def tubelets(c, frames):
    """uint8 [B,T,H,W,3] -> normalized tubelet rows [B,N,K], Conv3d weight order (c,dt,dy,dx)."""
    B, T, H, W, _ = frames.shape
    u, p = c.tubelet, c.patch
    mean = torch.tensor(IMNET_MEAN, device=frames.device)
    std = torch.tensor(IMNET_STD, device=frames.device)
    x = ((frames.float() / 255 - mean) / std).reshape(B, T // u, u, H // p, p, W // p, p, 3)
    return x.permute(0, 1, 3, 5, 7, 2, 4, 6).reshape(B, c.n_tok, -1)


def vtc_loss(t, v, temperature):
    t, v = F.normalize(t, dim=-1, eps=1e-8), F.normalize(v, dim=-1, eps=1e-8)
    sim, y = t @ v.t() / temperature, torch.arange(t.shape[0], device=t.device)
    return F.cross_entropy(sim, y) + F.cross_entropy(sim.t(), y)


def pretrain_loss(model, st):
    """simvtp_ref.SimVTP.pretrain with libsimvtp's FLOPs (bench/torch_step.py pretrain_matched)."""
    c, enc, dec = model.c, model.encoder, model.decoder
    frames, vis_idx, mask_idx = st["frames"], st["vis_idx"], st["mask_idx"]
    B, dev = frames.shape[0], frames.device
    rows = torch.arange(B, device=dev)[:, None]
    conv = enc.patch_embed.proj
    vis = F.linear(tubelets(c, frames)[rows, vis_idx], conv.weight.flatten(1), conv.bias) + model.pe_enc[vis_idx]
    txt = model.embed_text(model.text_embeddings, st["text_input"], st["text_dropmask"])
    Nv, L = vis.shape[1], txt.shape[1]
    pad = torch.arange(L, device=dev)[None] >= st["lengths"][:, None]
    jpad = torch.cat([torch.zeros(B, Nv, dtype=torch.bool, device=dev), pad], 1)
    run = lambda h, msk: enc.norm(enc(h, msk))
    joint = run(torch.cat([vis, txt], 1), jpad)
    y = torch.cat([model.encoder_to_decoder(joint[:, :Nv]) + model.pe_dec[vis_idx],
                   model.mask_token + model.pe_dec[mask_idx]], 1)
    pred = dec.head(dec.norm(dec(y))[:, Nv:])
    mse = F.mse_loss(pred.float(), model.pixel_target(frames)[rows, mask_idx])
    lab = st["text_labels"]
    sel = lab != -100
    mlm = F.cross_entropy(model.mlm_head(joint[:, Nv:][sel]).float(), lab[sel])
    vtc = vtc_loss(model.pool_text(run(txt, pad), pad).float(), run(vis, None).mean(1).float(), c.vtc_temperature)
    neg = run(torch.cat([vis[st["vtm_neg"]], txt], 1), jpad)
    logits = model.vtm_head(torch.cat([joint, neg]).mean(1)).float()
    vtm = F.cross_entropy(logits, torch.cat([torch.ones(B, device=dev), torch.zeros(B, device=dev)]).long())
    return torch.stack([mse + mlm + vtc + vtm, mse, mlm, vtc, vtm])


def finetune_loss(model, st):
    """simvtp_ref.SimVTP.retrieval (two towers, VTC, drop path), patch embedding as a matmul."""
    c, vt, tt = model.c, model.video, model.text
    frames = st["frames"]
    dev = frames.device
    conv = vt.patch_embed.proj
    x = F.linear(tubelets(c, frames), conv.weight.flatten(1), conv.bias) + model.pe_enc
    v = vt.fc_norm(vt(x, None, st["droppath_video"]).mean(1))
    txt = model.embed_text(tt.embeddings, st["tokens"], st["text_dropmask"])
    pad = torch.arange(txt.shape[1], device=dev)[None] >= st["lengths"][:, None]
    t = tt.fc_norm(model.pool_text(tt(txt, pad, st["droppath_text"]), pad))
    vtc = vtc_loss(t.float(), v.float(), c.vtc_temperature)
    zero = vtc * 0
    return torch.stack([vtc, zero, zero, vtc, zero])


def init_weights(model):  # SPEC's from-scratch init (values do not matter for timing)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.ndim >= 2 and "embeddings" not in n and "mask_token" not in n:
                torch.nn.init.xavier_uniform_(p.flatten(1) if p.ndim > 2 else p)
            elif p.ndim >= 2:
                torch.nn.init.trunc_normal_(p, std=0.02)
            elif n.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()


def run_variant(a, c, pool, mode, variant, dev):
    finetune = mode == "finetune"
    attn = a.attn if a.attn != "auto" else ("manual" if variant == "fp32" else "sdpa")
    if attn == "sdpa" and not hasattr(F, "scaled_dot_product_attention"):
        attn = "manual"  # torch < 2.0 (the --device cpu smoke test on Debian's torch)
    ref.Attention.forward = attention_sdpa if attn == "sdpa" else ATTENTION_MANUAL
    torch.manual_seed(a.seed)
    on_cuda = dev.type == "cuda"
    if on_cuda:
        torch.cuda.synchronize()
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base_alloc, base_res = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    model = ref.SimVTP(c, 1 if finetune else 0)
    init_weights(model)
    model.to(dev)
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if not ref.no_decay(n, p)], "weight_decay": 0.05},
              {"params": [p for n, p in named if ref.no_decay(n, p)], "weight_decay": 0.0}]
    kw = {"fused": True} if on_cuda else {}
    opt = torch.optim.AdamW(groups, lr=7.5e-5 if finetune else 1.5e-4,
                            betas=(0.9, 0.999) if finetune else (0.9, 0.95), eps=1e-8, **kw)
    loss_fn = finetune_loss if finetune else pretrain_loss
    draw = finetune_inputs if finetune else pretrain_inputs
    warmup = a.warmup
    if variant == "compile":
        if not hasattr(torch, "compile"):
            raise RuntimeError("torch.compile needs PyTorch >= 2.0")
        import torch._dynamo as dynamo
        # room for every (block kind, padding, drop path, length) combination: no silent
        # fallback to eager after too many recompiles (the limit was renamed in 2.6)
        for name, want in (("recompile_limit", 64), ("cache_size_limit", 64),
                           ("accumulated_recompile_limit", 512), ("accumulated_cache_size_limit", 512)):
            if hasattr(dynamo.config, name):
                setattr(dynamo.config, name, max(getattr(dynamo.config, name), want))
        if a.compile_scope == "model":
            loss_fn = torch.compile(loss_fn, mode=a.compile_mode)
        else:
            for mod in model.modules():
                if isinstance(mod, ref.Block):
                    mod.compile(mode=a.compile_mode)
        warmup = max(warmup, 2 * POOL)  # every batch shape compiled before timing
    use_amp = variant in ("bf16", "compile")

    def step(s):
        frames, tok, lens = pool[s % POOL]
        frames = frames.to(dev, non_blocking=False)  # from pageable host memory, as libsimvtp
        tok, lens = tok.to(dev), lens.to(dev)
        st = draw(c, frames, tok, lens, dev)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            out = loss_fn(model, st)
        out[0].backward()
        opt.step()
        return out

    t_compile = time.perf_counter()
    for s in range(warmup):
        out = step(s)
    if on_cuda:
        torch.cuda.synchronize()
    t_compile = time.perf_counter() - t_compile
    evs, dts = [], []
    t0 = time.perf_counter()
    for s in range(warmup, warmup + a.steps):
        if on_cuda:
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            out = step(s)
            e1.record()
            evs.append((e0, e1))
        else:
            ts = time.perf_counter()
            out = step(s)
            dts.append(time.perf_counter() - ts)
    if on_cuda:
        torch.cuda.synchronize()
        dts = [e0.elapsed_time(e1) / 1e3 for e0, e1 in evs]
        sec = evs[0][0].elapsed_time(evs[-1][1]) / 1e3 / a.steps
    else:
        sec = (time.perf_counter() - t0) / a.steps
    lo = out.detach().float().cpu().tolist()
    flops = 0.0
    for s in range(warmup, warmup + a.steps):
        _, tok, lens = pool[s % POOL]
        flops += step_flops(c, a.batch, tok.shape[1], c.text_mask_ratio * float((lens - 2).sum()), finetune)
    flops /= a.steps
    tflops = flops / sec / 1e12
    mem = res = -1.0
    if on_cuda:
        mem = (torch.cuda.max_memory_allocated() - base_alloc) / 2**30
        res = (torch.cuda.max_memory_reserved() - base_res) / 2**30
    return dict(sec=sec, med=statistics.median(dts), mn=min(dts), lo=lo, gflop=flops / 1e9, tflops=tflops,
                mfu=tflops / a.peak_tflops if on_cuda else -1.0, mem=mem, res=res, attn=attn,
                warmup_sec=t_compile)


def main():
    ap = argparse.ArgumentParser(description="SimVTP training-step throughput in PyTorch on a GPU")
    ap.add_argument("--preset", default="vit-b", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--modes", default="pretrain,finetune")
    ap.add_argument("--variants", default="fp32,bf16,compile")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peak-tflops", type=float, default=989.0,
                    help="device peak for mfu (default 989: H100/H200 SXM dense bf16)")
    ap.add_argument("--attn", default="auto", choices=["auto", "manual", "sdpa"],
                    help="auto: manual for fp32, sdpa for bf16/compile")
    ap.add_argument("--compile-mode", default="default")
    ap.add_argument("--compile-scope", default="blocks", choices=["blocks", "model"])
    ap.add_argument("--time-budget", type=float, default=0.0,
                    help="seconds; skip the variants that would start after it (0: no limit)")
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    modes = [m for m in a.modes.split(",") if m]
    variants = [v for v in a.variants.split(",") if v]
    if a.batch < 2 or a.steps < 1 or a.warmup < 0 or not set(modes) <= {"pretrain", "finetune"} \
            or not set(variants) <= {"fp32", "bf16", "compile"}:
        ap.error("need --batch >= 2, --steps >= 1, --warmup >= 0, modes in pretrain,finetune, "
                 "variants in fp32,bf16,compile")
    dev = torch.device(a.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            print("SKIP: no CUDA device for PyTorch", flush=True)
            return 77
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 (bf16 goes through autocast)
        torch.backends.cudnn.allow_tf32 = False
        print(f"# torch {torch.__version__} on {torch.cuda.get_device_name(dev)}", flush=True)
    c = make_cfg(a.preset)
    pool = batch_pool(c, a.batch, a.seed)
    tv = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    start = time.perf_counter()
    order = [(m, v) for v in variants if v != "compile" for m in modes] + \
            [(m, "compile") for m in modes if "compile" in variants]  # compile last: the slowest
    status = 0
    for mode, variant in order:
        head = f"RESULT impl=pytorch-{tv}-{variant} mode={mode} preset={a.preset} batch={a.batch}"
        if a.time_budget and time.perf_counter() - start > a.time_budget:
            print(f"{head} steps=0 backend={dev.type} variant={variant} status=skipped-time-budget", flush=True)
            continue
        r, failed = None, None
        try:
            r = run_variant(a, c, pool, mode, variant, dev)
        except Exception as exc:  # OOM or a compile failure: report, go on with the next one
            failed = "oom" if "out of memory" in str(exc).lower() else "error"
            msg = str(exc).splitlines()[0] if str(exc) else ""
            print(f"# {mode} {variant}: {type(exc).__name__}: {msg}", file=sys.stderr, flush=True)
        if failed:  # (here the exception and the model it held are gone)
            print(f"{head} steps=0 backend={dev.type} variant={variant} status={failed}", flush=True)
            status = 1
            ref.Attention.forward = ATTENTION_MANUAL
            gc.collect()
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            continue
        lo = r["lo"]
        print(f"{head} steps={a.steps} sec_per_step={r['sec']:.4f} clips_per_sec={a.batch / r['sec']:.3f} "
              f"median_sec={r['med']:.4f} min_sec={r['mn']:.4f} total={lo[0]:.5f} video_mse={lo[1]:.5f} "
              f"mlm={lo[2]:.5f} vtc={lo[3]:.5f} vtm={lo[4]:.5f} backend={dev.type} variant={variant} "
              f"attn={r['attn']} gflop_per_step={r['gflop']:.1f} tflops={r['tflops']:.3f} mfu={r['mfu']:.4f} "
              f"peak_mem_gib={r['mem']:.3f} peak_reserved_gib={r['res']:.3f} warmup_sec={r['warmup_sec']:.1f} "
              f"status=ok", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
