#!/usr/bin/python3
# simvtp_ref.py -- independent PyTorch reference for libsimvtp parity tests.
#
# Reads a debug dump written by the C library (format: README-parity.md), rebuilds
# SimVTP (pretraining, or two-tower retrieval fine-tuning) in PyTorch with the
# dumped initial weights, recomputes the step-0 losses and every parameter gradient
# with autograd, replays the AdamW steps on the dumped inputs and learning rates,
# and compares all of it with the C values.  The method follows docs/SPEC.md.
#
#   simvtp_ref.py DUMP [--fp64] [--quiet]   check a C dump
#   simvtp_ref.py --selftest                 prove the reader/comparator on synthetic dumps
# Exit: 0 pass, 1 any failure, 77 torch/numpy missing (meson's skip code).
# Run it with Debian's /usr/bin/python3 (python3-torch); pyenv's python has no torch.
import argparse, math, os, struct, sys, tempfile

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as exc:  # meson treats 77 as "skipped"
    print(f"SKIP: {exc}")
    sys.exit(77)

torch.set_num_threads(2)

MAGIC = b"SVTPDBG1"
DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<i4"), 2: np.dtype("u1")}
TOL_LOSS, ABS_LOSS, TOL_GRAD, TOL_WEIGHT = 1e-4, 1e-6, 1e-4, 1e-4
IMNET_MEAN, IMNET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CFG_I = ("frames height width tubelet patch enc_width enc_depth enc_heads enc_mlp dec_width "
         "dec_depth dec_heads dec_mlp vocab_size max_text_len type_vocab vtc_pool_exclude_pad").split()
CFG_F = ("video_mask_ratio text_mask_ratio ln_eps text_ln_eps text_dropout vtc_temperature "
         "drop_path").split()
LOSS_NAMES = ("total", "video_mse", "mlm", "vtc", "vtm")
STEP_KEYS = {0: "frames tokens lengths vis_idx mask_idx text_input text_labels text_dropmask vtm_neg".split(),
             1: "frames tokens lengths text_dropmask droppath_video droppath_text".split()}


# ----------------------------------------------------------------------------- dump I/O
def read_dump(path):
    """Returns {name: numpy array} in file order."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:8] != MAGIC:
        raise ValueError("bad magic (not an SVTPDBG1 dump)")
    (version,) = struct.unpack_from("<i", buf, 8)
    if version != 1:
        raise ValueError(f"unsupported dump version {version}")
    recs, off = {}, 12
    while off < len(buf):
        (n,) = struct.unpack_from("<i", buf, off)
        name = buf[off + 4:off + 4 + n].decode("utf-8")
        off += 4 + n
        code, ndim = struct.unpack_from("<ii", buf, off)
        dims = struct.unpack_from(f"<{ndim}q", buf, off + 8)
        off += 8 + 8 * ndim
        if code not in DTYPES:
            raise ValueError(f"record {name}: unknown dtype {code}")
        dt, count = DTYPES[code], int(np.prod(dims, dtype=np.int64))
        if off + count * dt.itemsize > len(buf):
            raise ValueError(f"record {name}: truncated")
        if name in recs:
            raise ValueError(f"record {name}: duplicated")
        recs[name] = np.frombuffer(buf, dt, count, off).reshape(dims).copy()
        off += count * dt.itemsize
    return recs


def write_dump(path, recs):
    codes = {np.dtype("float32"): 0, np.dtype("int32"): 1, np.dtype("uint8"): 2}
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<i", 1))
        for name, a in recs.items():
            a, nb = np.ascontiguousarray(a), name.encode("utf-8")
            f.write(struct.pack("<i", len(nb)) + nb + struct.pack("<ii", codes[a.dtype], a.ndim))
            f.write(struct.pack(f"<{a.ndim}q", *a.shape) + a.astype(a.dtype.newbyteorder("<")).tobytes())


class Cfg:
    def __init__(self, ci, cf):
        self.__dict__.update(zip(CFG_I, (int(v) for v in ci)))
        self.__dict__.update(zip(CFG_F, (float(v) for v in cf)))  # exact float32 values
        self.grid = (self.height // self.patch) * (self.width // self.patch)
        self.n_tok = (self.frames // self.tubelet) * self.grid


# ----------------------------------------------------------------------------- model
def sincos(n, d):
    """Fixed 1-D table: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(same)."""
    pos, j = np.arange(n)[:, None], np.arange(d)[None]
    ang = pos / np.power(10000.0, 2 * (j // 2) / d)
    return torch.tensor(np.where(j % 2 == 0, np.sin(ang), np.cos(ang)), dtype=torch.float32)


def container(**mods):
    m = nn.Module()
    for k, v in mods.items():
        m.add_module(k, v)
    return m


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.q_bias, self.v_bias = nn.Parameter(torch.zeros(d)), nn.Parameter(torch.zeros(d))
        self.proj = nn.Linear(d, d)

    def forward(self, x, pad):  # pad: [B, N] bool, True = padded key
        B, N, D = x.shape
        hd = D // self.heads
        bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
        q, k, v = F.linear(x, self.qkv.weight, bias).reshape(B, N, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        att = q @ k.transpose(-2, -1) / math.sqrt(hd)
        if pad is not None:
            att = att.masked_fill(pad[:, None, None, :], float("-inf"))
        return self.proj((att.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D))


class Block(nn.Module):  # pre-LN ViT block (VideoMAE style), optional per-sample drop path
    def __init__(self, d, heads, mlp, eps):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(d, eps=eps), Attention(d, heads)
        self.norm2, self.mlp = nn.LayerNorm(d, eps=eps), container(fc1=nn.Linear(d, mlp), fc2=nn.Linear(mlp, d))

    def forward(self, x, pad=None, dp=None):  # dp: [2, B] multipliers (attention, mlp)
        ma, mm = (1.0, 1.0) if dp is None else (dp[0][:, None, None], dp[1][:, None, None])
        x = x + ma * self.attn(self.norm1(x), pad)
        return x + mm * self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class Tower(nn.Module):  # [stem modules] + blocks + [tail modules]; names follow the dump
    def __init__(self, d, depth, heads, mlp, eps, stem=(), tail=()):
        super().__init__()
        for name, m in stem:
            self.add_module(name, m)
        self.blocks = nn.ModuleList(Block(d, heads, mlp, eps) for _ in range(depth))
        for name, m in tail:
            self.add_module(name, m)

    def forward(self, x, pad=None, dp=None):
        for i, blk in enumerate(self.blocks):
            x = blk(x, pad, None if dp is None else dp[i])
        return x


def vtc_loss(t, v, temperature):
    t, v = F.normalize(t, dim=-1, eps=1e-8), F.normalize(v, dim=-1, eps=1e-8)
    sim, y = t @ v.t() / temperature, torch.arange(t.shape[0])  # rows = text
    return F.cross_entropy(sim, y) + F.cross_entropy(sim.t(), y)


class SimVTP(nn.Module):
    """kind 0: pretraining (one shared encoder, MAE decoder, MLM/VTC/VTM heads);
       kind 1: retrieval fine-tuning (separate video and text towers, VTC only)."""

    def __init__(self, c, kind):
        super().__init__()
        self.c, self.kind, D = c, kind, c.enc_width
        patch = lambda: container(proj=nn.Conv3d(3, D, (c.tubelet, c.patch, c.patch), (c.tubelet, c.patch, c.patch)))
        text_emb = lambda: container(word_embeddings=nn.Embedding(c.vocab_size, D),
                                     position_embeddings=nn.Embedding(c.max_text_len, D),
                                     token_type_embeddings=nn.Embedding(c.type_vocab, D),
                                     LayerNorm=nn.LayerNorm(D, eps=c.text_ln_eps))
        enc = lambda stem, tail: Tower(D, c.enc_depth, c.enc_heads, c.enc_mlp, c.ln_eps, stem, tail)
        self.register_buffer("pe_enc", sincos(c.n_tok, D), persistent=False)
        if kind == 0:
            self.encoder = enc([("patch_embed", patch())], [("norm", nn.LayerNorm(D, eps=c.ln_eps))])
            self.text_embeddings = text_emb()
            self.encoder_to_decoder = nn.Linear(D, c.dec_width, bias=False)
            self.mask_token = nn.Parameter(torch.zeros(1, 1, c.dec_width))
            self.decoder = Tower(c.dec_width, c.dec_depth, c.dec_heads, c.dec_mlp, c.ln_eps, (),
                                 [("norm", nn.LayerNorm(c.dec_width, eps=c.ln_eps)),
                                  ("head", nn.Linear(c.dec_width, c.tubelet * c.patch * c.patch * 3))])
            self.mlm_head, self.vtm_head = nn.Linear(D, c.vocab_size), nn.Linear(D, 2)
            self.register_buffer("pe_dec", sincos(c.n_tok, c.dec_width), persistent=False)
        else:
            self.video = enc([("patch_embed", patch())], [("fc_norm", nn.LayerNorm(D, eps=c.ln_eps))])
            self.text = enc([("embeddings", text_emb())], [("fc_norm", nn.LayerNorm(D, eps=c.ln_eps))])

    # -- inputs
    def embed_video(self, tower, frames):  # uint8 [B,T,H,W,3] -> [B,N,D] with positions, all N tokens
        dt = self.pe_enc.dtype
        mean, std = torch.tensor(IMNET_MEAN, dtype=dt), torch.tensor(IMNET_STD, dtype=dt)
        x = ((frames.to(dt) / 255 - mean) / std).permute(0, 4, 1, 2, 3)  # [B,3,T,H,W]
        return tower.patch_embed.proj(x).flatten(2).transpose(1, 2) + self.pe_enc

    def embed_text(self, emb, ids, dropmask):
        e = (emb.word_embeddings(ids) + emb.position_embeddings.weight[:ids.shape[1]]
             + emb.token_type_embeddings.weight[0])
        return emb.LayerNorm(e) * dropmask

    def pixel_target(self, frames):  # [B,N,tubelet*p*p*3], per tubelet/channel normalized
        c, (B, T, H, W, _) = self.c, frames.shape
        u, p = c.tubelet, c.patch
        x = (frames.to(self.pe_enc.dtype) / 255).reshape(B, T // u, u, H // p, p, W // p, p, 3)
        x = x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(B, c.n_tok, u * p * p, 3)
        x = (x - x.mean(2, keepdim=True)) / (x.var(2, unbiased=True, keepdim=True).sqrt() + 1e-6)
        return x.reshape(B, c.n_tok, -1)  # feature ((dt*p+dy)*p+dx)*3+c

    def pool_text(self, h, pad):
        if self.c.vtc_pool_exclude_pad:
            keep = (~pad).to(h.dtype)[..., None]
            return (h * keep).sum(1) / keep.sum(1)
        return h.mean(1)

    # -- losses: returns [total, video_mse, mlm, vtc, vtm]
    def forward(self, st):
        return self.pretrain(st) if self.kind == 0 else self.retrieval(st)

    def pretrain(self, st):
        c, enc, dec = self.c, self.encoder, self.decoder
        B = st["frames"].shape[0]
        rows = torch.arange(B)[:, None]
        vis = self.embed_video(enc, st["frames"])[rows, st["vis_idx"]]  # [B,Nv,D]
        txt = self.embed_text(self.text_embeddings, st["text_input"], st["text_dropmask"])
        Nv, L = vis.shape[1], txt.shape[1]
        pad = torch.arange(L)[None] >= st["lengths"][:, None]
        jpad = torch.cat([torch.zeros(B, Nv, dtype=torch.bool), pad], 1)
        run = lambda x, m: enc.norm(enc(x, m))  # the one shared encoder, every pass
        joint = run(torch.cat([vis, txt], 1), jpad)
        # MAE video decoder on the masked tubelets
        y = torch.cat([self.encoder_to_decoder(joint[:, :Nv]) + self.pe_dec[st["vis_idx"]],
                       self.mask_token + self.pe_dec[st["mask_idx"]]], 1)
        pred = dec.head(dec.norm(dec(y))[:, Nv:])
        mse = F.mse_loss(pred, self.pixel_target(st["frames"])[rows, st["mask_idx"]])
        # MLM on the joint text outputs
        mlm = F.cross_entropy(self.mlm_head(joint[:, Nv:]).flatten(0, 1), st["text_labels"].flatten(),
                              ignore_index=-100)
        # VTC: single-modality passes
        vtc = vtc_loss(self.pool_text(run(txt, pad), pad), run(vis, None).mean(1), c.vtc_temperature)
        # VTM: positives = joint pass, negatives = text i with video vtm_neg[i]
        neg = run(torch.cat([vis[st["vtm_neg"]], txt], 1), jpad)
        logits = self.vtm_head(torch.cat([joint, neg]).mean(1))
        vtm = F.cross_entropy(logits, torch.cat([torch.ones(B), torch.zeros(B)]).long())
        return torch.stack([mse + mlm + vtc + vtm, mse, mlm, vtc, vtm])

    def retrieval(self, st):
        c, vt, tt = self.c, self.video, self.text
        v = vt.fc_norm(vt(self.embed_video(vt, st["frames"]), None, st["droppath_video"]).mean(1))
        txt = self.embed_text(tt.embeddings, st["tokens"], st["text_dropmask"])
        pad = torch.arange(txt.shape[1])[None] >= st["lengths"][:, None]
        t = tt.fc_norm(self.pool_text(tt(txt, pad, st["droppath_text"]), pad))
        vtc = vtc_loss(t, v, c.vtc_temperature)
        zero = vtc * 0
        return torch.stack([vtc, zero, zero, vtc, zero])


def no_decay(name, p):
    return (p.ndim < 2 or name.endswith("bias") or "position_embeddings" in name
            or "mask_token" in name)


def replay(model, steps, lrs, adamw):
    """forward/backward on every step's inputs, AdamW update with lrs[k] after step k.
       Returns (per-step losses [nstep,5] float64, step-0 grads {name: tensor}, final weights)."""
    b1, b2, eps, wd = (float(v) for v in adamw[:4])
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if not no_decay(n, p)], "weight_decay": wd},
              {"params": [p for n, p in named if no_decay(n, p)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=0.0, betas=(b1, b2), eps=eps)
    losses, grads = [], {}
    for k, st in enumerate(steps):
        opt.zero_grad(set_to_none=True)
        out = model(st)
        out[0].backward()
        losses.append(out.detach().double().numpy())
        if k == 0:
            grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
                     for n, p in named}
        if k < len(lrs):
            for g in opt.param_groups:
                g["lr"] = float(lrs[k])
            opt.step()
    return np.array(losses), grads, {n: p.detach().clone() for n, p in named}


def step_inputs(R, kind, k, dtype):
    st = {}
    for key in STEP_KEYS[kind]:
        a = torch.from_numpy(R[f"step{k}/{key}"])
        st[key] = a.long() if a.dtype == torch.int32 else a.to(dtype) if a.is_floating_point() else a
    return st


def input_problems(c, kind, R, k):
    """Sanity checks on C's sampled inputs (masking, dropout, negatives) for step k."""
    g = lambda key: R[f"step{k}/{key}"]
    P, tok, lens = [], g("tokens"), g("lengths")
    B, L = tok.shape
    if L > c.max_text_len or lens.min() < 1 or lens.max() > L:
        P.append("lengths/L out of range")
    if tok.min() < 0 or tok.max() >= c.vocab_size:
        P.append("token ids out of vocab")
    keep = 1.0 / (1.0 - c.text_dropout)
    drop = g("text_dropmask")
    if not np.all((drop == 0) | (np.abs(drop - keep) <= 1e-6 * keep)):
        P.append("text_dropmask values not in {0, 1/(1-p)}")
    if kind == 0:
        for b in range(B):
            vis, msk = g("vis_idx")[b], g("mask_idx")[b]
            if not (np.array_equal(np.sort(np.concatenate([vis, msk])), np.arange(c.n_tok))
                    and np.all(np.diff(vis) > 0) and np.all(np.diff(msk) > 0)):
                P.append(f"sample {b}: vis_idx/mask_idx not an ascending partition of 0..N-1")
                continue
            m = np.zeros(c.n_tok, bool)
            m[msk] = True
            if not (m.reshape(-1, c.grid) == m[:c.grid]).all():
                P.append(f"sample {b}: video mask is not a tube mask")
        ti, lab = g("text_input"), g("text_labels")
        masked, pos = lab != -100, np.arange(L)[None]
        if np.any(ti[~masked] != tok[~masked]) or np.any(lab[masked] != tok[masked]):
            P.append("text_input/text_labels inconsistent with tokens")
        if len(np.unique(ti[masked])) > 1:
            P.append("masked text positions hold different ids")
        if np.any(masked & ((pos == 0) | (pos >= lens[:, None] - 1))):
            P.append("[CLS]/[SEP]/pad position masked")
        if not masked.any():
            P.append("no masked text token (MLM undefined)")
        neg = g("vtm_neg")
        if np.any(neg == np.arange(B)) or neg.min() < 0 or neg.max() >= B:
            P.append("vtm_neg[i] must be in [0,B) and != i")
    else:
        for key in ("droppath_video", "droppath_text"):
            dp = g(key)
            for i in range(dp.shape[0]):
                nz = dp[i][dp[i] != 0]
                if nz.size and (nz.min() < 1 or nz.max() - nz.min() > 1e-6 * nz.max()):
                    P.append(f"{key} block {i}: values not in {{0, 1/(1-rate)}}")
    return P


# ----------------------------------------------------------------------------- comparison
def rel(c_val, t_val):
    c_val, t_val = np.asarray(c_val, np.float64), np.asarray(t_val, np.float64)
    return float(np.linalg.norm((c_val - t_val).ravel()) / max(np.linalg.norm(t_val.ravel()), 1e-12))


def loss_ok(c_val, t_val):
    return abs(c_val - t_val) <= ABS_LOSS or rel(c_val, t_val) <= TOL_LOSS


def check(path, fp64=False, quiet=False):
    """Returns (exit code, list of failure strings)."""
    fails = []
    say = (lambda *a: None) if quiet else print
    try:
        R = read_dump(path)
        c, kind = Cfg(R["config_i"], R["config_f"]), int(R["kind"][0])
        nsteps, lrs, adamw = int(R["nsteps"][0]), R["lr"], R["adamw"]
        if len(lrs) != nsteps:
            raise ValueError(f"lr has {len(lrs)} entries, nsteps = {nsteps}")
        dtype = torch.float64 if fp64 else torch.float32
        model = SimVTP(c, kind).to(dtype)
        params = dict(model.named_parameters())
        dumped = [k[6:] for k in R if k.startswith("param/")]
        for n in sorted(set(params) - set(dumped)):
            fails.append(f"param/{n} missing from dump")
        for n in sorted(set(dumped) - set(params)):
            fails.append(f"param/{n} in dump but not in the model")
        for n, p in params.items():
            if n in dumped and tuple(R["param/" + n].shape) != tuple(p.shape):
                fails.append(f"param/{n}: shape {R['param/' + n].shape}, expected {tuple(p.shape)}")
        if fails:
            raise ValueError("parameter set/shape mismatch")
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(torch.from_numpy(R["param/" + n]))
        order = dumped  # C's parameter order
        steps = [step_inputs(R, kind, k, dtype) for k in range(max(nsteps, 1))]
        for k in range(len(steps)):
            fails += [f"step{k} input: {p}" for p in input_problems(c, kind, R, k)]
        say(f"dump {path}: {'pretrain' if kind == 0 else 'retrieval'}, {nsteps} AdamW steps, "
            f"B={steps[0]['frames'].shape[0]} L={steps[0]['tokens'].shape[1]} N={c.n_tok}, "
            f"reference in {'float64' if fp64 else 'float32'}")
        losses, grads, final = replay(model, steps, lrs, adamw)
    except Exception as exc:  # malformed/incomplete dump = failure
        fails.append(f"cannot run: {type(exc).__name__}: {exc}")
        for f in fails:
            print("FAIL", f)
        return 1, fails

    # losses at step 0
    c_loss = R["step0/losses"].astype(np.float64)
    say(f"\n== losses, step 0 ==\n  {'loss':<10} {'C':>15} {'torch':>15} {'rel err':>9}")
    for i, name in enumerate(LOSS_NAMES):
        ok = loss_ok(c_loss[i], losses[0][i])
        if not ok:
            fails.append(f"step0 loss {name}: C {c_loss[i]:.8g} torch {losses[0][i]:.8g}")
        say(f"  {name:<10} {c_loss[i]:15.8g} {losses[0][i]:15.8g} {rel(c_loss[i], losses[0][i]):9.2e}"
            f"{'' if ok else '  FAIL'}")

    # gradients at step 0
    worst = (-1.0, "")
    say(f"\n== gradients, step 0 (rel err = ||g_C - g_torch|| / ||g_torch||, tol {TOL_GRAD:g}) ==")
    say(f"  {'parameter':<48} {'shape':<18} {'||g_torch||':>11} {'rel err':>9}")
    for n in order:
        key = f"step0/grad/{n}"
        if key not in R:
            fails.append(f"gradient {n} missing from dump")
            say(f"  {n:<48} {'':<18} {'':>11} {'MISSING':>9}  FAIL")
            continue
        gt = grads[n].double().numpy()
        if R[key].shape != gt.shape:
            fails.append(f"gradient {n}: shape {R[key].shape}, expected {gt.shape}")
            continue
        e = rel(R[key], gt)
        worst = (e, n) if e > worst[0] else worst
        if not e <= TOL_GRAD:
            fails.append(f"gradient {n}: rel err {e:.2e}")
        say(f"  {n:<48} {str(list(gt.shape)):<18} {np.linalg.norm(gt):11.4e} {e:9.2e}"
            f"{'' if e <= TOL_GRAD else '  FAIL'}")
    for k in R:
        if k.startswith("step0/grad/") and k[11:] not in params:
            fails.append(f"{k}: no such parameter")

    # AdamW replay
    if nsteps:
        say(f"\n== AdamW replay: {nsteps} steps (betas {adamw[0]:g},{adamw[1]:g} eps {adamw[2]:g} "
            f"wd {adamw[3]:g}) ==\n  {'step':<5} {'lr':>10} {'C total':>15} {'torch total':>15} {'max rel err (5 losses)':>23}")
        for k in range(nsteps):
            ck = R[f"step{k}/losses"].astype(np.float64)
            bad = [LOSS_NAMES[i] for i in range(5) if not loss_ok(ck[i], losses[k][i])]
            fails += [f"step{k} loss {b}" for b in bad]
            e = max(rel(ck[i], losses[k][i]) if abs(ck[i] - losses[k][i]) > ABS_LOSS else 0.0
                    for i in range(5))
            say(f"  {k:<5} {lrs[k]:10.3e} {ck[0]:15.8g} {losses[k][0]:15.8g} {e:23.2e}"
                f"{'  FAIL ' + ','.join(bad) if bad else ''}")
        say(f"\n== weights after {nsteps} steps (rel err of weights, tol {TOL_WEIGHT:g}; "
            f"update rel err for information) ==\n  {'parameter':<48} {'rel err':>9} {'update err':>11}")
        worst_w = (-1.0, "")
        for n in order:
            key = f"final/{n}"
            if key not in R or R[key].shape != tuple(final[n].shape):
                fails.append(f"final weight {n} missing or misshaped")
                say(f"  {n:<48} {'MISSING':>9}  FAIL")
                continue
            wt, w0 = final[n].double().numpy(), R["param/" + n].astype(np.float64)
            e = rel(R[key], wt)
            worst_w = (e, n) if e > worst_w[0] else worst_w
            if not e <= TOL_WEIGHT:
                fails.append(f"final weight {n}: rel err {e:.2e}")
            say(f"  {n:<48} {e:9.2e} {rel(R[key] - w0, wt - w0):11.2e}{'' if e <= TOL_WEIGHT else '  FAIL'}")
        say(f"worst final-weight error: {worst_w[0]:.2e} ({worst_w[1]})")

    print(f"worst gradient error: {worst[0]:.2e} ({worst[1]})")
    for f in fails:
        print("FAIL", f)
    print(f"RESULT: {'PASS' if not fails else f'FAIL ({len(fails)} problems)'}")
    return (0 if not fails else 1), fails


# ----------------------------------------------------------------------------- self-test
def synth_records(kind, seed=1234, nsteps=3):
    """A tiny dump whose C-side values are produced by this reference itself."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    ci = [4, 32, 32, 2, 16, 32, 2, 4, 64, 16, 1, 2, 32, 50, 16, 2, kind]  # retrieval: exclude pad
    cf = [0.5, 0.75, 1e-6, 1e-12, 0.1, 0.05, 0.0 if kind == 0 else 0.3]
    c = Cfg(ci, cf)
    model = SimVTP(c, kind)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn_like(p) / math.sqrt(p[0].numel()))
            else:  # LayerNorm weights near 1; every bias (q/v included) nonzero
                p.copy_((1.0 if n.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
    recs = {"config_i": np.int32(ci), "config_f": np.float32(cf), "kind": np.int32([kind])}
    first = ("encoder.patch_embed", "text_embeddings", "encoder.", "encoder_to_decoder", "mask_token")
    rank = lambda n: next((i for i, f in enumerate(first) if n.startswith(f)), len(first))
    recs.update({f"param/{n}": p.detach().numpy().copy()  # the order the C dumper uses
                 for n, p in sorted(model.named_parameters(), key=lambda np_: rank(np_[0]))})
    lrs = np.float32([1e-3, 2e-3, 5e-4][:nsteps])
    adamw = np.float32([0.9, 0.95 if kind == 0 else 0.999, 1e-8, 0.05, 0])
    recs.update({"nsteps": np.int32([nsteps]), "adamw": adamw, "lr": lrs})
    B, L, V, D = 3, 7, c.vocab_size, c.enc_width
    MASK, CLS, SEP = (103, 101, 102) if V > 103 else (3, 1, 2)
    tslices, n_masked = c.n_tok // c.grid, int(c.video_mask_ratio * c.grid)
    pos = np.arange(L)[None]
    for k in range(nsteps):
        lens = rng.permutation([7, 5, 4]).astype(np.int32)
        tok = np.zeros((B, L), np.int32)
        for b in range(B):
            tok[b, 0], tok[b, lens[b] - 1] = CLS, SEP
            tok[b, 1:lens[b] - 1] = rng.integers(5, V, lens[b] - 2)
        p = c.text_dropout
        st = {"frames": rng.integers(0, 256, (B, c.frames, c.height, c.width, 3), dtype=np.uint8),
              "tokens": tok, "lengths": lens,
              "text_dropmask": ((rng.random((B, L, D)) >= p) / (1 - p)).astype(np.float32)}
        if kind == 0:
            cells = [rng.permutation(c.grid)[:n_masked] for _ in range(B)]
            msk = np.array([np.sort([t * c.grid + s for t in range(tslices) for s in cl]) for cl in cells])
            vis = np.array([np.setdiff1d(np.arange(c.n_tok), m) for m in msk])
            while True:
                m = (rng.random((B, L)) < c.text_mask_ratio) & (pos > 0) & (pos < lens[:, None] - 1)
                if m.any():
                    break
            st.update(vis_idx=vis.astype(np.int32), mask_idx=msk.astype(np.int32),
                      text_input=np.where(m, MASK, tok).astype(np.int32),
                      text_labels=np.where(m, tok, -100).astype(np.int32),
                      vtm_neg=np.int32([(i + rng.integers(1, B)) % B for i in range(B)]))
        else:
            rates = [c.drop_path * i / max(c.enc_depth - 1, 1) for i in range(c.enc_depth)]
            dp = lambda: np.stack([(rng.random((2, B)) >= r) / (1 - r) for r in rates]).astype(np.float32)
            st.update(droppath_video=dp(), droppath_text=dp())
        recs.update({f"step{k}/{key}": v for key, v in st.items()})
    steps = [step_inputs(recs, kind, k, torch.float32) for k in range(nsteps)]
    losses, grads, final = replay(model, steps, lrs, adamw)
    for k in range(nsteps):  # ordered as the C dumper does: inputs, losses, grads (step 0)
        recs[f"step{k}/losses"] = losses[k].astype(np.float32)
    grad_recs = {f"step0/grad/{n}": g.numpy() for n, g in grads.items()}
    out = {}
    for key, v in recs.items():
        out[key] = v
        if key == "step0/losses":
            out.update(grad_recs)
    out.update({f"final/{n}": w.numpy() for n, w in final.items()})
    return out


def selftest():
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for kind in (0, 1):
            recs = synth_records(kind)
            path = os.path.join(d, f"synth{kind}.bin")
            write_dump(path, recs)
            print(f"\n######## selftest, {'pretrain' if kind == 0 else 'retrieval'} dump "
                  f"({os.path.getsize(path)} bytes): unmodified -> expect PASS")
            rc, _ = check(path)
            ok &= rc == 0
            tower = "encoder" if kind == 0 else "video"
            gname = f"step0/grad/{tower}.blocks.0.attn.qkv.weight"
            wname = "final/" + ("mlm_head.weight" if kind == 0 else "text.fc_norm.weight")

            def bump(key, r):
                def f(R):
                    a = R[key]
                    a.flat[np.argmax(np.abs(a))] += r * np.linalg.norm(a)
                return f

            variants = [("gradient perturbed by 1e-6 (relative)", bump(gname, 1e-6), 0),
                        ("gradient perturbed by 5e-4 (relative)", bump(gname, 5e-4), 1),
                        ("gradient record missing", lambda R: R.pop(gname), 1),
                        ("step-1 vtc loss off by 1e-3 (relative)",
                         lambda R: R["step1/losses"].__setitem__(3, R["step1/losses"][3] * 1.001), 1),
                        ("final weight perturbed by 5e-4 (relative)", bump(wname, 5e-4), 1),
                        ("input sanity: a text_dropmask entry of 0.5",
                         lambda R: R["step0/text_dropmask"].__setitem__((0, 0, 0), 0.5), 1),
                        ("truncated file", None, 1)]
            for what, mutate, want in variants:
                vpath = os.path.join(d, "variant.bin")
                if mutate is None:
                    with open(path, "rb") as f, open(vpath, "wb") as g:
                        g.write(f.read()[:-100])
                else:
                    R = {k: v.copy() for k, v in recs.items()}
                    mutate(R)
                    write_dump(vpath, R)
                print(f"\n-- variant: {what} -> expect {'PASS' if want == 0 else 'FAIL'}")
                rc, fails = check(vpath, quiet=True)
                good = rc == want
                ok &= good
                print(f"-- {'ok' if good else 'UNEXPECTED'}: exit {rc}")
    print(f"\nSELFTEST: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description="SimVTP C-vs-PyTorch parity check")
    ap.add_argument("dump", nargs="?", help="SVTPDBG1 dump written by libsimvtp")
    ap.add_argument("--selftest", action="store_true", help="check the checker on synthetic dumps")
    ap.add_argument("--fp64", action="store_true", help="run the reference in float64 (diagnosis)")
    ap.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    a = ap.parse_args()
    if a.selftest:
        return selftest()
    if not a.dump:
        ap.error("DUMP or --selftest required")
    return check(a.dump, a.fp64, a.quiet)[0]


if __name__ == "__main__":
    sys.exit(main())
