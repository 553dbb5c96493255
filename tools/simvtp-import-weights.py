#!/usr/bin/python3
# simvtp-import-weights.py -- convert PyTorch checkpoints into a libsimvtp .svtp weights file.
#
# Reads a VideoMAE pretraining checkpoint (the video encoder, the encoder->decoder projection,
# the mask token and the video decoder) and, optionally, a HuggingFace BERT checkpoint (its
# embeddings), infers the model config from the tensor shapes, initializes what the inputs do
# not hold (MLM and VTM heads; the text embeddings without a BERT file) with libsimvtp's
# from-scratch rule, and writes a pretraining-kind .svtp exactly as libsimvtp/model/weights_io.c
# does (docs/FORMATS.md). Run it with Debian's /usr/bin/python3 (python3-torch).
#
# Exit status: 0 written, 2 bad input or arguments (one-line message on stderr).
import argparse
import os
import re
import struct
import sys
import zlib

EXIT_ERR = 2
MAGIC = b"SVTPWGT1"
FORMAT_VERSION = 1
KIND_PRETRAIN = 0
CONFIG_WORDS = 25
NAME_MAX = 96

# Fields of libsimvtp's simvtp_config in serialized order (core/config.c: never reorder).
INT_FIELDS = ("frames height width tubelet patch enc_width enc_depth enc_heads enc_mlp dec_width "
              "dec_depth dec_heads dec_mlp vocab_size max_text_len type_vocab vtc_pool_exclude_pad "
              "vtm_hard_negatives").split()
FLOAT_FIELDS = ("video_mask_ratio text_mask_ratio ln_eps text_ln_eps text_dropout vtc_temperature "
                "drop_path").split()
# Library defaults for what the shapes cannot tell (core/config.c, set_common).
DEFAULTS = dict(vocab_size=30522, max_text_len=512, type_vocab=2, vtc_pool_exclude_pad=0,
                vtm_hard_negatives=0, video_mask_ratio=0.9, text_mask_ratio=0.75, ln_eps=1e-6,
                text_ln_eps=1e-12, text_dropout=0.1, vtc_temperature=0.05, drop_path=0.1)

BLOCK_PARTS = ("norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.q_bias", "attn.v_bias",
               "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
               "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias")
BERT_PARTS = ("word_embeddings.weight", "position_embeddings.weight",
              "token_type_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias")

# init rules (model/init.c)
XAVIER, ZERO, ONE, NORMAL02 = "xavier", "zero", "one", "tn"


class ImportError_(Exception):
    """A user-facing error: printed as one line, exit 2."""


def fail(msg):
    raise ImportError_(msg)


def note(msg):
    print(f"simvtp-import-weights: {msg}", file=sys.stderr)


def shape_str(s):
    return "[" + ", ".join(str(int(d)) for d in s) + "]"


# ----------------------------------------------------------------------------- reading inputs
def load_checkpoint(path, what, torch):
    if not os.path.exists(path):
        fail(f"{what} {path}: no such file")
    if os.path.isdir(path):
        fail(f"{what} {path} is a directory, not a checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as exc:  # pickle/zip errors of every kind
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"{what} {path} is not a PyTorch checkpoint ({why[:160]})")
    return obj


def state_dict_of(obj, path, what, torch):
    """The tensor dict: the object itself or its 'model' / 'module' / 'state_dict' entry."""
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not isinstance(obj, dict):
        obj = obj.state_dict()  # a pickled nn.Module
    if not isinstance(obj, dict):
        fail(f"{what} {path} holds a {type(obj).__name__}, not a state dict")
    for key in ("model", "module", "state_dict"):
        if key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    sd = {k: v for k, v in obj.items() if isinstance(k, str) and torch.is_tensor(v)}
    if not sd:
        fail(f"{what} {path} holds no tensors (expected a state dict, or one under "
             f"'model', 'module' or 'state_dict')")
    # DistributedDataParallel prefixes every name with "module."
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def sincos_table(n, d):
    import numpy as np
    pos, j = np.arange(n)[:, None], np.arange(d)[None]
    ang = pos / np.power(10000.0, 2 * (j // 2) / d)
    return np.where(j % 2 == 0, np.sin(ang), np.cos(ang))


# ----------------------------------------------------------------------------- VideoMAE
def block_indices(sd, prefix, what):
    idx = set()
    pat = re.compile(re.escape(prefix) + r"\.blocks\.(\d+)\.")
    for k in sd:
        m = pat.match(k)
        if m:
            idx.add(int(m.group(1)))
    if not idx:
        return 0
    n = max(idx) + 1
    missing = sorted(set(range(n)) - idx)
    if missing:
        fail(f"{what}: {prefix}.blocks.{missing[0]} is missing but {prefix}.blocks.{n - 1} exists")
    return n


def take(sd, name, shape, used, what="VideoMAE checkpoint"):
    if name not in sd:
        fail(f"{what}: tensor {name} is missing (expected shape {shape_str(shape)})")
    t = sd[name]
    if tuple(t.shape) != tuple(shape):
        fail(f"{what}: {name} has shape {shape_str(t.shape)}, expected {shape_str(shape)}")
    used.add(name)
    return t


def parse_videomae(sd, path):
    """Checks a VideoMAE pretraining state dict; returns (dims, {name: tensor}, names used,
       q/v bias names absent from the checkpoint)."""
    what = f"VideoMAE checkpoint {path}"
    pe = "encoder.patch_embed.proj.weight"
    if pe not in sd:
        hint = (" (this looks like a fine-tuned VideoMAE checkpoint: the pretraining one, with "
                "encoder.* / decoder.* names, is needed)" if "patch_embed.proj.weight" in sd else "")
        fail(f"{what} has no {pe}; not a VideoMAE pretraining checkpoint{hint}")
    w = sd[pe]
    if w.ndim != 5 or w.shape[1] != 3 or w.shape[3] != w.shape[4]:
        fail(f"{what}: {pe} has shape {shape_str(w.shape)}; a Conv3d patch embedding "
             f"[width, 3, tubelet, patch, patch] is expected")
    D, t, p = int(w.shape[0]), int(w.shape[2]), int(w.shape[3])
    dims = dict(enc_width=D, tubelet=t, patch=p)
    if "encoder_to_decoder.weight" not in sd:
        fail(f"{what}: tensor encoder_to_decoder.weight is missing")
    e2d = sd["encoder_to_decoder.weight"]
    if e2d.ndim != 2 or e2d.shape[1] != D:
        fail(f"{what}: encoder_to_decoder.weight has shape {shape_str(e2d.shape)}, "
             f"expected [decoder width, {D}]")
    Dd = int(e2d.shape[0])
    dims["dec_width"] = Dd
    for g in ("encoder", "decoder"):
        depth = block_indices(sd, g, what)
        if depth == 0:
            fail(f"{what} has no {g}.blocks.*")
        C = D if g == "encoder" else Dd
        fc1 = f"{g}.blocks.0.mlp.fc1.weight"
        if fc1 not in sd:
            fail(f"{what}: tensor {fc1} is missing")
        if sd[fc1].ndim != 2 or sd[fc1].shape[1] != C:
            fail(f"{what}: {fc1} has shape {shape_str(sd[fc1].shape)}, expected [mlp, {C}]")
        dims[f"{g[:3]}_depth"], dims[f"{g[:3]}_mlp"] = depth, int(sd[fc1].shape[0])
    for g in ("encoder", "decoder"):  # layer scale cannot be represented
        for k in sd:
            if k.startswith(g + ".blocks.") and (k.endswith(".gamma_1") or k.endswith(".gamma_2")):
                fail(f"{what}: {k}: blocks with layer scale (init_values > 0) are not supported "
                     f"by libsimvtp")
            if k.startswith(g + ".blocks.") and k.endswith("attn.qkv.bias"):
                fail(f"{what}: {k}: a full qkv bias is not supported (libsimvtp has q and v "
                     f"biases only, as VideoMAE)")
    K = 3 * t * p * p
    used, out = set(), {}
    shapes = expected_shapes(dict(dims, vocab_size=1, max_text_len=1, type_vocab=1))
    zero_qv = []
    for name, shp, _ in shapes:
        if name.startswith("text_embeddings.") or name.startswith(("mlm_head.", "vtm_head.")):
            continue
        if name.endswith(("attn.q_bias", "attn.v_bias")) and name not in sd:
            zero_qv.append(name)  # a VideoMAE built with qkv_bias=False
            continue
        if name == "decoder.head.weight" and name in sd and tuple(sd[name].shape) != (K, Dd):
            fail(f"{what}: decoder.head.weight has shape {shape_str(sd[name].shape)}, expected "
                 f"{shape_str((K, Dd))} (3 x tubelet {t} x patch {p}^2 pixels per tubelet)")
        out[name] = take(sd, name, shp, used, what)
    return dims, out, used, zero_qv


# ----------------------------------------------------------------------------- BERT
def parse_bert(sd, path, D):
    what = f"BERT checkpoint {path}"
    prefix = None
    for cand in ("bert.embeddings.", "embeddings."):
        if any(k.startswith(cand) for k in sd):
            prefix = cand
            break
    if prefix is None:
        fail(f"{what} has no embeddings.* or bert.embeddings.* tensors")
    emb = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    for old, new in (("LayerNorm.gamma", "LayerNorm.weight"), ("LayerNorm.beta", "LayerNorm.bias")):
        if old in emb and new not in emb:
            emb[new] = emb.pop(old)
    out, unknown = {}, []
    for part in BERT_PARTS:
        if part not in emb:
            fail(f"{what}: tensor {prefix}{part} is missing")
    word = emb["word_embeddings.weight"]
    if word.ndim != 2:
        fail(f"{what}: {prefix}word_embeddings.weight has shape {shape_str(word.shape)}, "
             f"expected [vocab, width]")
    Db = int(word.shape[1])
    if Db != D:
        fail(f"{what}: BERT width {Db} differs from the VideoMAE encoder width {D}")
    V = int(word.shape[0])
    for part in ("position_embeddings.weight", "token_type_embeddings.weight"):
        t = emb[part]
        if t.ndim != 2 or t.shape[1] != D:
            fail(f"{what}: {prefix}{part} has shape {shape_str(t.shape)}, expected [n, {D}]")
    P, Y = int(emb["position_embeddings.weight"].shape[0]), int(emb["token_type_embeddings.weight"].shape[0])
    for part in ("LayerNorm.weight", "LayerNorm.bias"):
        if tuple(emb[part].shape) != (D,):
            fail(f"{what}: {prefix}{part} has shape {shape_str(emb[part].shape)}, expected [{D}]")
    for part in BERT_PARTS:
        out["text_embeddings." + part] = emb[part]
    for k in emb:
        if k not in BERT_PARTS and k != "position_ids":
            unknown.append(prefix + k)
    others = sum(1 for k in sd if not k.startswith(prefix))
    return dict(vocab_size=V, max_text_len=P, type_vocab=Y), out, unknown, others


# ----------------------------------------------------------------------------- the table
def expected_shapes(c):
    """[(name, shape, init)] of a pretraining model, in params.c's table order."""
    D, M, Dd, Md = c["enc_width"], c["enc_mlp"], c["dec_width"], c["dec_mlp"]
    t, p = c["tubelet"], c["patch"]
    K = t * p * p * 3
    T = []

    def blocks(pfx, depth, C, H):
        for i in range(depth):
            b = f"{pfx}.blocks.{i}."
            T.extend([(b + "norm1.weight", (C,), ONE), (b + "norm1.bias", (C,), ZERO),
                      (b + "attn.qkv.weight", (3 * C, C), XAVIER),
                      (b + "attn.q_bias", (C,), ZERO), (b + "attn.v_bias", (C,), ZERO),
                      (b + "attn.proj.weight", (C, C), XAVIER), (b + "attn.proj.bias", (C,), ZERO),
                      (b + "norm2.weight", (C,), ONE), (b + "norm2.bias", (C,), ZERO),
                      (b + "mlp.fc1.weight", (H, C), XAVIER), (b + "mlp.fc1.bias", (H,), ZERO),
                      (b + "mlp.fc2.weight", (C, H), XAVIER), (b + "mlp.fc2.bias", (C,), ZERO)])

    T.append(("encoder.patch_embed.proj.weight", (D, 3, t, p, p), XAVIER))
    T.append(("encoder.patch_embed.proj.bias", (D,), ZERO))
    T.extend([("text_embeddings.word_embeddings.weight", (c["vocab_size"], D), NORMAL02),
              ("text_embeddings.position_embeddings.weight", (c["max_text_len"], D), NORMAL02),
              ("text_embeddings.token_type_embeddings.weight", (c["type_vocab"], D), NORMAL02),
              ("text_embeddings.LayerNorm.weight", (D,), ONE),
              ("text_embeddings.LayerNorm.bias", (D,), ZERO)])
    blocks("encoder", c["enc_depth"], D, M)
    T.extend([("encoder.norm.weight", (D,), ONE), ("encoder.norm.bias", (D,), ZERO),
              ("encoder_to_decoder.weight", (Dd, D), XAVIER), ("mask_token", (1, 1, Dd), NORMAL02)])
    blocks("decoder", c["dec_depth"], Dd, Md)
    T.extend([("decoder.norm.weight", (Dd,), ONE), ("decoder.norm.bias", (Dd,), ZERO),
              ("decoder.head.weight", (K, Dd), XAVIER), ("decoder.head.bias", (K,), ZERO),
              ("mlm_head.weight", (c["vocab_size"], D), XAVIER), ("mlm_head.bias", (c["vocab_size"],), ZERO),
              ("vtm_head.weight", (2, D), XAVIER), ("vtm_head.bias", (2,), ZERO)])
    return T


def init_tensor(shape, rule, gen, torch):
    """libsimvtp's from-scratch rule (model/init.c), drawn from a seeded torch generator."""
    if rule == ZERO:
        return torch.zeros(shape)
    if rule == ONE:
        return torch.ones(shape)
    if rule == XAVIER:
        fan_out = shape[0]
        fan_in = 1
        for d in shape[1:]:
            fan_in *= d
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1).mul_(bound).float()
    z = torch.randn(shape, generator=gen, dtype=torch.float64)
    bad = z.abs() > 2.0
    while bad.any():  # redraw beyond 2 std
        z[bad] = torch.randn(int(bad.sum()), generator=gen, dtype=torch.float64)
        bad = z.abs() > 2.0
    return (0.02 * z).float()


# ----------------------------------------------------------------------------- config
def validate_config(c):
    """The checks of simvtp_config_validate (core/config.c), as one-line errors."""
    if c["frames"] % c["tubelet"]:
        fail(f"--frames {c['frames']} is not a multiple of the checkpoint's tubelet size {c['tubelet']}")
    if c["height"] % c["patch"] or c["width"] % c["patch"]:
        fail(f"--size {c['height']} is not a multiple of the checkpoint's patch size {c['patch']}")
    if c["frames"] > 4096 or c["height"] > 8192:
        fail("--frames/--size too large (at most 4096 frames, 8192 pixels)")
    for g, w in (("enc", "encoder"), ("dec", "decoder")):
        W, H = c[f"{g}_width"], c[f"{g}_heads"]
        if H <= 0 or W % H:
            fail(f"{w} width {W} is not divisible by {H} heads (set --{g}-heads)")
        if W % 2:
            fail(f"{w} width {W} must be even (sin-cos positions)")
        if W > 65536 or c[f"{g}_mlp"] > 262144 or c[f"{g}_depth"] > 1024:
            fail(f"{w} dimensions too large")
    if not 104 <= c["vocab_size"] <= 10000000:
        fail(f"vocabulary size {c['vocab_size']} must be in [104, 1e7] (ids 0 and 100..103 are "
             f"BERT's special tokens)")
    if not 2 <= c["max_text_len"] <= 65536:
        fail(f"max text length {c['max_text_len']} must be in [2, 65536]")
    if not 1 <= c["type_vocab"] <= 1024:
        fail(f"token type vocabulary {c['type_vocab']} must be in [1, 1024]")
    grid = (c["height"] // c["patch"]) * (c["width"] // c["patch"])
    r = struct.unpack("<f", struct.pack("<f", c["video_mask_ratio"]))[0]
    nm = int(r * grid)
    if not 0.0 <= r < 1.0 or nm < 1 or nm >= grid:
        fail(f"video mask ratio {c['video_mask_ratio']} masks {nm} of {grid} grid cells; at least "
             f"one must be masked and one visible")


def config_words(c):
    words = [struct.pack("<i", int(c[f])) for f in INT_FIELDS]
    words += [struct.pack("<f", float(c[f])) for f in FLOAT_FIELDS]
    assert len(words) == CONFIG_WORDS
    return b"".join(words)


# ----------------------------------------------------------------------------- writing
def svtp_bytes(c, tensors):
    """(header, [payload chunks]) laid out as simvtp_model_save writes them."""
    hdr = bytearray()
    hdr += MAGIC
    hdr_size = 8 + 4 * 5 + 4 * CONFIG_WORDS
    for name, a in tensors:
        hdr_size += 4 + len(name.encode()) + 4 + 4 + 8 * a.ndim + 8 + 8 + 4
    hdr_size += 4
    hdr += struct.pack("<IIII", FORMAT_VERSION, hdr_size, KIND_PRETRAIN, CONFIG_WORDS)
    hdr += config_words(c)
    hdr += struct.pack("<I", len(tensors))
    off, chunks = 0, []
    for name, a in tensors:
        nb = name.encode()
        assert 1 <= len(nb) < NAME_MAX and 1 <= a.ndim <= 5
        data = a.astype("<f4", copy=False).tobytes(order="C")
        hdr += struct.pack("<I", len(nb)) + nb + struct.pack("<II", 0, a.ndim)
        hdr += struct.pack(f"<{a.ndim}Q", *a.shape)
        hdr += struct.pack("<QQI", off, len(data), zlib.crc32(data) & 0xFFFFFFFF)
        off += len(data)
        chunks.append(data)
    hdr += struct.pack("<I", zlib.crc32(bytes(hdr)) & 0xFFFFFFFF)
    assert len(hdr) == hdr_size
    return bytes(hdr), chunks


def write_atomic(path, header, chunks):
    """Temp file + fsync + rename + directory fsync, as core/fileio.c does."""
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        fail(f"output directory {d} does not exist")
    if os.path.isdir(path):
        fail(f"output {path} is a directory")
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(header)
            for ch in chunks:
                f.write(ch)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        fail(f"cannot write {path}: {exc.strerror or exc} (the previous file is untouched)")
    try:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


# ----------------------------------------------------------------------------- main
def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="simvtp-import-weights",
        description="Convert a VideoMAE pretraining checkpoint (and optionally a HuggingFace BERT "
                    "checkpoint for the text embeddings) into a libsimvtp .svtp weights file "
                    "(pretraining model). The config is inferred from the tensor shapes; tensors "
                    "the inputs do not hold (mlm_head, vtm_head, and the text embeddings without "
                    "--bert) get libsimvtp's from-scratch initialization.",
        epilog="Checkpoints are unpickled with torch.load: convert only files you trust. "
               "Exit status: 0 written, 2 bad input or arguments.")
    ap.add_argument("videomae", help="VideoMAE pretraining checkpoint (.pth); the state dict may be "
                                     "at the top level or under 'model', 'module' or 'state_dict'")
    ap.add_argument("output", help="the .svtp file to write (atomically replaced)")
    ap.add_argument("--bert", metavar="FILE", help="HuggingFace BERT checkpoint (pytorch_model.bin) "
                                                    "for the text embeddings")
    ap.add_argument("--frames", type=int, default=16, help="clip length T (default 16)")
    ap.add_argument("--size", type=int, default=224, help="frame height = width (default 224)")
    ap.add_argument("--enc-heads", type=int, help="encoder heads (default width / 64)")
    ap.add_argument("--dec-heads", type=int, help="decoder heads (default width / 64)")
    ap.add_argument("--vocab-size", type=int, help="vocabulary size without --bert (default 30522)")
    ap.add_argument("--max-text-len", type=int, help="text positions without --bert (default 512)")
    ap.add_argument("--video-mask-ratio", type=float, default=DEFAULTS["video_mask_ratio"],
                    help="tube masking ratio stored in the config (default 0.9)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the initialized tensors (default 0)")
    ap.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    return ap.parse_args(argv)


def run(a):
    try:
        import numpy  # noqa: F401
        import torch
    except ImportError as exc:
        fail(f"this tool needs PyTorch and NumPy ({exc}); run it with Debian's /usr/bin/python3 "
             f"(python3-torch)")
    # Messages are held until every check has passed: an error is the only line printed.
    msgs = []
    say = (lambda m: None) if a.quiet else msgs.append
    warn = lambda m: msgs.append("warning: " + m)
    for flag in ("frames", "size", "enc_heads", "dec_heads", "vocab_size", "max_text_len"):
        v = getattr(a, flag)
        if v is not None and v <= 0:
            fail(f"--{flag.replace('_', '-')} must be > 0 (got {v})")
    if a.bert and (a.vocab_size is not None or a.max_text_len is not None):
        fail("--vocab-size/--max-text-len only apply without --bert (BERT's tables set them)")
    if a.seed < 0 or a.seed >= 2 ** 63:
        fail("--seed must be in [0, 2^63)")

    vsd = state_dict_of(load_checkpoint(a.videomae, "VideoMAE checkpoint", torch), a.videomae,
                        "VideoMAE checkpoint", torch)
    dims, src, used, zero_qv = parse_videomae(vsd, a.videomae)
    c = dict(DEFAULTS)
    c.update(dims)
    c.update(frames=a.frames, height=a.size, width=a.size,
             video_mask_ratio=a.video_mask_ratio)
    c["enc_heads"] = a.enc_heads if a.enc_heads else c["enc_width"] // 64
    c["dec_heads"] = a.dec_heads if a.dec_heads else c["dec_width"] // 64
    for g, w in (("enc", "encoder"), ("dec", "decoder")):
        W, H = c[f"{g}_width"], c[f"{g}_heads"]
        if getattr(a, f"{g}_heads") is None and (H == 0 or W % 64):
            fail(f"{w} width {W} does not split into heads of 64 (the default); give --{g}-heads")
        if W % H:
            fail(f"{w} width {W} is not divisible by --{g}-heads {H}")

    # what else the VideoMAE file holds
    ignored, unknown = [], []
    for k, v in vsd.items():
        if k in used:
            continue
        if k in ("pos_embed", "encoder.pos_embed", "decoder.pos_embed") or k.endswith("num_batches_tracked"):
            ignored.append(k)
        else:
            unknown.append(k)
    N = (c["frames"] // c["tubelet"]) * (c["height"] // c["patch"]) * (c["width"] // c["patch"]) \
        if c["frames"] % c["tubelet"] == 0 and c["height"] % c["patch"] == 0 else None
    for k in ignored:
        v = vsd[k]
        if k.endswith("pos_embed") and v.ndim == 3 and v.shape[0] == 1:
            n, d = int(v.shape[1]), int(v.shape[2])
            if N is not None and n != N:
                warn(f"{k} has {n} positions but --frames {c['frames']} --size {c['height']} "
                     f"gives {N} tokens; check --frames/--size")
            elif float((v[0].double() - torch.from_numpy(sincos_table(n, d))).abs().max()) > 1e-4:
                warn(f"{k} is not the fixed sin-cos table libsimvtp uses (learned positions "
                     f"are not supported and are dropped)")
    if ignored:
        say(f"ignored buffers: {', '.join(ignored)}")
    for k in unknown:
        warn(f"unknown key {k} {shape_str(vsd[k].shape)} in {a.videomae} ignored")

    bert_note = None
    if a.bert:
        bsd = state_dict_of(load_checkpoint(a.bert, "BERT checkpoint", torch), a.bert,
                            "BERT checkpoint", torch)
        bdims, bsrc, bunknown, others = parse_bert(bsd, a.bert, c["enc_width"])
        c.update(bdims)
        src.update(bsrc)
        for k in bunknown:
            warn(f"unknown key {k} in {a.bert} ignored")
        if others:
            bert_note = f"ignored {others} non-embedding BERT tensors (encoder layers, heads)"
    else:
        c["vocab_size"] = a.vocab_size if a.vocab_size else DEFAULTS["vocab_size"]
        c["max_text_len"] = a.max_text_len if a.max_text_len else DEFAULTS["max_text_len"]
    validate_config(c)

    gen = torch.Generator().manual_seed(a.seed)
    tensors, initialized = [], []
    for name, shp, rule in expected_shapes(c):
        if name in src:
            t = src[name].detach().to(torch.float32).contiguous()
        else:
            if name in zero_qv:
                t, rule = torch.zeros(shp), ZERO
            else:
                t = init_tensor(shp, rule, gen, torch)
            if name == "text_embeddings.word_embeddings.weight":
                t[0].zero_()  # BERT keeps the [PAD] row at zero
            initialized.append(f"{name} ({rule})")
        arr = t.numpy()
        if not numpy_isfinite(arr):
            fail(f"{name} holds NaN or Inf values")
        tensors.append((name, arr))
    header, chunks = svtp_bytes(c, tensors)
    write_atomic(a.output, header, chunks)

    nparams = sum(x.size for _, x in tensors)
    say(f"config: frames {c['frames']} size {c['height']}x{c['width']} tubelet {c['tubelet']} "
        f"patch {c['patch']}; encoder width {c['enc_width']} depth {c['enc_depth']} heads "
        f"{c['enc_heads']} mlp {c['enc_mlp']}; decoder width {c['dec_width']} depth "
        f"{c['dec_depth']} heads {c['dec_heads']} mlp {c['dec_mlp']}; vocab {c['vocab_size']} "
        f"text positions {c['max_text_len']} token types {c['type_vocab']}")
    if zero_qv:
        say(f"the checkpoint has no q/v biases: {len(zero_qv)} bias tensors set to zero")
    if bert_note:
        say(bert_note)
    say(f"initialized (seed {a.seed}): " + ", ".join(x for x in initialized if x.split()[0] not in zero_qv))
    say(f"wrote {a.output}: {len(tensors)} tensors, {nparams:,} parameters")
    for m in msgs:
        note(m)


def numpy_isfinite(arr):
    import numpy as np
    return bool(np.isfinite(arr).all())


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(a)
    except ImportError_ as exc:
        print(f"simvtp-import-weights: error: {exc}", file=sys.stderr)
        return EXIT_ERR
    except MemoryError:
        print("simvtp-import-weights: error: out of memory", file=sys.stderr)
        return EXIT_ERR
    return 0


if __name__ == "__main__":
    sys.exit(main())
