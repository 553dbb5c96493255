#!/bin/sh
# test_import.sh PYTHON TOOL IMPORT_CHECK SIMVTP_REF
#
# End-to-end test of tools/simvtp-import-weights.py:
#  1. builds, with torch, a random VideoMAE pretraining state dict with the real names and
#     shapes (small config, saved under 'model', plus a pos_embed buffer and one unknown key)
#     and a random BERT embeddings dict (bert.embeddings.*, vocab 200, 16 positions, with a
#     position_ids buffer and a non-embedding tensor);
#  2. converts them, then
#     - parses the .svtp in Python (header, config words, table, CRCs) and checks every
#       tensor bit for bit against the SOURCE tensors, and the initialized heads against the
#       from-scratch rule;
#     - loads it in libsimvtp (import_check: simvtp_model_load + simvtp_model_tensor_get),
#       runs one pretraining forward on a fixed batch with a fixed seed, and compares the four
#       losses, the decoder prediction, the MLM arg-max and the encoded videos/texts with the
#       PyTorch reference (tests/parity/simvtp_ref.py) fed with the ORIGINAL state dicts,
#       mapped by name here (not read back from the .svtp);
#  3. converts without BERT (initialized text embeddings; determinism in --seed) and with
#     the old BERT names (embeddings.*, LayerNorm.gamma/beta);
#  4. checks the errors: missing file, a random file, a qkv of the wrong shape, a BERT of
#     another width, a width without --enc-heads -> exit 2, one line, no output written.
# Exit 77 (skipped) when PYTHON cannot import torch and numpy.
set -eu
py=$1 tool=$2 check=$3 ref=$4

if ! [ -x "$py" ] || ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    echo "SKIP: $py cannot import torch and numpy (Debian's python3-torch)"
    exit 77
fi
dir=$(mktemp -d /tmp/svtp-import-XXXXXX)
trap 'rm -rf "$dir"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}

cat > "$dir/t.py" <<'PYEOF'
import math, os, struct, sys, zlib
import numpy as np
import torch

# the small config of the test; everything else is libsimvtp's default
T, S, TUB, P = 4, 48, 2, 16
D, DEPTH, MLP, DD, DDEPTH, DMLP = 32, 2, 64, 16, 1, 32
V, NPOS = 200, 16
EXPECT_CFG = dict(frames=T, height=S, width=S, tubelet=TUB, patch=P, enc_width=D, enc_depth=DEPTH,
                  enc_heads=4, enc_mlp=MLP, dec_width=DD, dec_depth=DDEPTH, dec_heads=2, dec_mlp=DMLP,
                  vocab_size=V, max_text_len=NPOS, type_vocab=2, vtc_pool_exclude_pad=0,
                  vtm_hard_negatives=0, video_mask_ratio=0.75, text_mask_ratio=0.75, ln_eps=1e-6,
                  text_ln_eps=1e-12, text_dropout=0.1, vtc_temperature=0.05, drop_path=0.1)
INTS = list(EXPECT_CFG)[:18]
FLOATS = list(EXPECT_CFG)[18:]
TOL = 1e-5
fails = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)


def block(sd, pfx, C, H, g):
    r = lambda *s: torch.randn(*s, generator=g)
    for n, t in {"norm1.weight": 1 + 0.1 * r(C), "norm1.bias": 0.1 * r(C),
                 "attn.qkv.weight": r(3 * C, C) / math.sqrt(C), "attn.q_bias": 0.1 * r(C),
                 "attn.v_bias": 0.1 * r(C), "attn.proj.weight": r(C, C) / math.sqrt(C),
                 "attn.proj.bias": 0.1 * r(C), "norm2.weight": 1 + 0.1 * r(C),
                 "norm2.bias": 0.1 * r(C), "mlp.fc1.weight": r(H, C) / math.sqrt(C),
                 "mlp.fc1.bias": 0.1 * r(H), "mlp.fc2.weight": r(C, H) / math.sqrt(H),
                 "mlp.fc2.bias": 0.1 * r(C)}.items():
        sd[f"{pfx}.{n}"] = t


def videomae_sd(seed=1):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    K = 3 * TUB * P * P
    sd = {"encoder.patch_embed.proj.weight": r(D, 3, TUB, P, P) / math.sqrt(K),
          "encoder.patch_embed.proj.bias": 0.1 * r(D)}
    for i in range(DEPTH):
        block(sd, f"encoder.blocks.{i}", D, MLP, g)
    sd.update({"encoder.norm.weight": 1 + 0.1 * r(D), "encoder.norm.bias": 0.1 * r(D),
               "encoder_to_decoder.weight": r(DD, D) / math.sqrt(D), "mask_token": 0.5 * r(1, 1, DD)})
    for i in range(DDEPTH):
        block(sd, f"decoder.blocks.{i}", DD, DMLP, g)
    sd.update({"decoder.norm.weight": 1 + 0.1 * r(DD), "decoder.norm.bias": 0.1 * r(DD),
               "decoder.head.weight": r(K, DD) / math.sqrt(DD), "decoder.head.bias": 0.1 * r(K)})
    return sd


def bert_sd(seed=2, width=D):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    return {"bert.embeddings.position_ids": torch.arange(NPOS)[None],
            "bert.embeddings.word_embeddings.weight": 0.5 * r(V, width),
            "bert.embeddings.position_embeddings.weight": 0.5 * r(NPOS, width),
            "bert.embeddings.token_type_embeddings.weight": 0.5 * r(2, width),
            "bert.embeddings.LayerNorm.weight": 1 + 0.1 * r(width),
            "bert.embeddings.LayerNorm.bias": 0.1 * r(width),
            "bert.encoder.layer.0.attention.self.query.weight": r(width, width)}


def sincos(n, d):
    pos, j = np.arange(n)[:, None], np.arange(d)[None]
    ang = pos / np.power(10000.0, 2 * (j // 2) / d)
    return torch.tensor(np.where(j % 2 == 0, np.sin(ang), np.cos(ang)), dtype=torch.float32)


def gen(d):
    sd = videomae_sd()
    full = dict(sd)
    full["encoder.pos_embed"] = sincos((T // TUB) * (S // P) ** 2, D)[None]  # a buffer: ignored
    full["some_extra.weight"] = torch.zeros(3)                                # unknown: warned
    torch.save({"model": full, "epoch": 7}, f"{d}/videomae.pth")
    torch.save(bert_sd(), f"{d}/bert.bin")
    old = {k.replace("bert.embeddings.", "embeddings.").replace("LayerNorm.weight", "LayerNorm.gamma")
           .replace("LayerNorm.bias", "LayerNorm.beta"): v for k, v in bert_sd(seed=3).items()}
    torch.save(old, f"{d}/bert_old.bin")
    bad = dict(sd)
    bad["encoder.blocks.1.attn.qkv.weight"] = torch.zeros(2 * D, D)
    torch.save({"model": bad}, f"{d}/bad_qkv.pth")
    torch.save({"state_dict": bert_sd(width=2 * D)}, f"{d}/bert_wide.bin")
    with open(f"{d}/random.bin", "wb") as f:
        f.write(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def sources(d, bert="bert.bin"):
    """{model name: original tensor} from the ORIGINAL checkpoints, mapped by name."""
    vm = torch.load(f"{d}/videomae.pth")["model"]
    src = {k: v for k, v in vm.items() if k not in ("encoder.pos_embed", "some_extra.weight")}
    if bert:
        b = torch.load(f"{d}/{bert}")
        for k, v in b.items():
            for pfx in ("bert.embeddings.", "embeddings."):
                if k.startswith(pfx) and not k.endswith("position_ids"):
                    n = k[len(pfx):].replace("LayerNorm.gamma", "LayerNorm.weight") \
                        .replace("LayerNorm.beta", "LayerNorm.bias")
                    src["text_embeddings." + n] = v
    return src


def parse_svtp(path):
    """An independent reader of the .svtp layout (docs/FORMATS.md)."""
    buf = open(path, "rb").read()
    assert buf[:8] == b"SVTPWGT1", "magic"
    version, hdr, kind, nwords = struct.unpack_from("<IIII", buf, 8)
    assert version == 1 and kind == 0 and nwords == 25, (version, kind, nwords)
    words = struct.unpack_from("<18i7f", buf, 24)
    (ntensors,) = struct.unpack_from("<I", buf, 124)
    assert zlib.crc32(buf[:hdr - 4]) == struct.unpack_from("<I", buf, hdr - 4)[0], "header crc"
    off, tensors, expect_off = 128, [], 0
    for _ in range(ntensors):
        (nl,) = struct.unpack_from("<I", buf, off)
        name = buf[off + 4:off + 4 + nl].decode()
        off += 4 + nl
        dtype, ndim = struct.unpack_from("<II", buf, off)
        shape = struct.unpack_from(f"<{ndim}Q", buf, off + 8)
        doff, nbytes, crc = struct.unpack_from("<QQI", buf, off + 8 + 8 * ndim)
        off += 8 + 8 * ndim + 20
        assert dtype == 0 and doff == expect_off and nbytes == 4 * int(np.prod(shape)), name
        data = buf[hdr + doff:hdr + doff + nbytes]
        assert zlib.crc32(data) == crc, f"crc of {name}"
        tensors.append((name, np.frombuffer(data, "<f4").reshape(shape)))
        expect_off += nbytes
    assert off == hdr - 4, "table ends at the header crc"
    assert len(buf) == hdr + expect_off, "payload size"
    cfg = dict(zip(INTS + FLOATS, words))
    return cfg, tensors


def check_cfg(cfg, what, **over):
    exp = dict(EXPECT_CFG, **over)
    bad = [k for k in exp if (cfg[k] != np.float32(exp[k]) if k in FLOATS else cfg[k] != exp[k])]
    check(not bad, f"{what}: inferred config {'matches' if not bad else 'differs in ' + ', '.join(bad)}")


def check_init(t, name):
    a = t[name]
    if name.endswith(".bias"):
        return check(not a.any(), f"initialized {name} is zero")
    bound = math.sqrt(6.0 / (a.shape[0] + a[0].size))
    ok = np.abs(a).max() <= bound and abs(a.std() - bound / math.sqrt(3)) < 0.2 * bound / math.sqrt(3)
    check(ok, f"initialized {name} is xavier-uniform (bound {bound:.4f}, max {np.abs(a).max():.4f}, std {a.std():.4f})")


def compare(d, ref):
    sys.path.insert(0, os.path.dirname(os.path.abspath(ref)))
    import simvtp_ref as R
    src = sources(d)
    heads = ("mlm_head.weight", "mlm_head.bias", "vtm_head.weight", "vtm_head.bias")

    # 1. the .svtp, parsed here, against the source tensors (bit for bit)
    cfg, table = parse_svtp(f"{d}/model.svtp")
    check_cfg(cfg, "model.svtp")
    t = dict(table)
    dump = R.read_dump(f"{d}/run.dump")
    c_order = [k[6:] for k in dump if k.startswith("param/")]
    check([n for n, _ in table] == c_order, "tensor table is in the library's order")
    miss = sorted(set(t) - set(src) - set(heads))
    check(not miss and not set(src) - set(t), f"every tensor comes from a source or is a new head {miss}")
    bad = [n for n in src if n in t and not (t[n].shape == tuple(src[n].shape)
                                              and np.array_equal(t[n], src[n].numpy()))]
    check(not bad, f"{len(src)} source tensors stored bit for bit in the .svtp {bad[:4]}")
    for n in heads:
        check_init(t, n)
    # 2. what libsimvtp loaded (simvtp_model_tensor_get) against the sources
    bad = [n for n in src if not np.array_equal(dump["param/" + n], src[n].numpy())]
    bad += [n for n in heads if not np.array_equal(dump["param/" + n], t[n])]
    check(not bad, f"libsimvtp's loaded tensors equal the sources {bad[:4]}")

    # 3. libsimvtp's run against the reference fed with the ORIGINAL state dicts
    # the config of the ORIGINAL models (what the converter must have inferred), not the file's
    c = R.Cfg([EXPECT_CFG[k] for k in R.CFG_I], np.float32([EXPECT_CFG[k] for k in R.CFG_F]))
    for dtype in (torch.float64, torch.float32):
        model = R.SimVTP(c, 0).to(dtype)
        with torch.no_grad():
            for n, p in model.named_parameters():
                p.copy_(src[n] if n in src else torch.from_numpy(t[n].copy()))  # heads: new, from the file
        cap = {}
        model.decoder.head.register_forward_hook(lambda m, i, o: cap.setdefault("pred", o))
        model.mlm_head.register_forward_hook(lambda m, i, o: cap.setdefault("mlm", o))
        st = R.step_inputs(dump, 0, 0, dtype)
        with torch.no_grad():
            losses = model.pretrain(st).double().numpy()
            enc = model.encoder
            v = enc.norm(enc(model.embed_video(enc, st["frames"]))).mean(1)
            pad = torch.arange(st["tokens"].shape[1])[None] >= st["lengths"][:, None]
            txt = model.embed_text(model.text_embeddings, st["tokens"], torch.ones(1, dtype=dtype))
            tx = model.pool_text(enc.norm(enc(txt, pad)), pad)
        name = "float64" if dtype == torch.float64 else "float32"
        cl = dump["step0/losses"].astype(np.float64)
        for i, ln in enumerate(R.LOSS_NAMES):
            e = R.rel(cl[i], losses[i])
            check(e <= TOL, f"[{name} ref] loss {ln:<9}: C {cl[i]:.8g} torch {losses[i]:.8g} rel {e:.1e}")
        lab = st["text_labels"]
        amax = torch.where(lab != -100, cap["mlm"].argmax(-1), st["text_input"]).numpy()
        check(np.array_equal(amax, dump["out/mlm_argmax"]), f"[{name} ref] MLM arg-max identical")
        for key, val in (("pred", cap["pred"]), ("enc_video", torch.nn.functional.normalize(v, dim=-1)),
                         ("enc_text", torch.nn.functional.normalize(tx, dim=-1))):
            e = R.rel(dump["out/" + key], val.double().numpy())
            check(e <= TOL, f"[{name} ref] {key:<9} rel {e:.1e}")


def noinit(d, f1, f2, f3):
    """Without --bert: text embeddings initialized (tn .02, row 0 zero, LN 1/0), seed-deterministic."""
    cfg, table = parse_svtp(f1)
    check_cfg(cfg, "no-BERT file", vocab_size=300, max_text_len=20)
    t, src = dict(table), sources(d, bert=None)
    check(all(np.array_equal(t[n], v.numpy()) for n, v in src.items()), "no-BERT: VideoMAE tensors stored bit for bit")
    w = t["text_embeddings.word_embeddings.weight"]
    check(w.shape == (300, D) and not w[0].any() and w[1:].all(), "no-BERT: word table [300, D], row 0 zero")
    for n in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        a = t[f"text_embeddings.{n}.weight"]
        check(np.abs(a).max() <= 0.04 + 1e-7 and 0.012 < a[a != 0].std() < 0.02,
              f"no-BERT: {n} truncated normal std .02 (max {np.abs(a).max():.4f}, std {a[a != 0].std():.4f})")
    check((t["text_embeddings.LayerNorm.weight"] == 1).all() and not t["text_embeddings.LayerNorm.bias"].any(),
          "no-BERT: text LayerNorm 1/0")
    for n in ("mlm_head.weight", "mlm_head.bias", "vtm_head.weight", "vtm_head.bias"):
        check_init(t, n)
    same = open(f1, "rb").read() == open(f2, "rb").read()
    other = open(f1, "rb").read() != open(f3, "rb").read()
    check(same and other, "no-BERT: same --seed gives the same file, another seed another one")


def oldbert(d, f):
    cfg, table = parse_svtp(f)
    check_cfg(cfg, "old-BERT-names file")
    t, src = dict(table), sources(d, bert="bert_old.bin")
    bad = [n for n, v in src.items() if not np.array_equal(t[n], v.numpy())]
    check(not bad, f"embeddings.* / LayerNorm.gamma/beta: all source tensors stored bit for bit {bad}")


if __name__ == "__main__":
    mode, d = sys.argv[1], sys.argv[2]
    {"gen": lambda: gen(d), "compare": lambda: compare(d, sys.argv[3]),
     "noinit": lambda: noinit(d, *sys.argv[3:6]), "oldbert": lambda: oldbert(d, sys.argv[3])}[mode]()
    sys.exit(1 if fails else 0)
PYEOF

status=0
say() { printf '%s\n' "$*"; }
bad() { say "FAIL $*"; status=1; }

"$py" "$dir/t.py" gen "$dir"
common="--frames 4 --size 48 --enc-heads 4 --dec-heads 2 --video-mask-ratio 0.75"

say "== convert VideoMAE + BERT"
# shellcheck disable=SC2086
if "$py" "$tool" "$dir/videomae.pth" "$dir/model.svtp" --bert "$dir/bert.bin" $common --seed 5 \
        2> "$dir/log"; then
    cat "$dir/log"
    grep -q "initialized (seed 5):.*mlm_head.weight.*vtm_head.bias" "$dir/log" \
        || bad "the tool does not report the initialized heads"
    grep "initialized" "$dir/log" | grep -q "text_embeddings" \
        && bad "text embeddings reported as initialized although --bert was given"
    grep -q "warning: unknown key some_extra.weight" "$dir/log" || bad "no warning for an unknown key"
    grep -q "warning: unknown key encoder.pos_embed" "$dir/log" && bad "pos_embed buffer reported as unknown"
    grep -q "unknown key bert" "$dir/log" && bad "BERT buffers/non-embedding tensors reported as unknown"
    "$check" "$dir/model.svtp" "$dir/run.dump" || bad "libsimvtp cannot load or run the converted file"
    "$py" "$dir/t.py" compare "$dir" "$ref" || bad "converted weights differ from the PyTorch model"
else
    cat "$dir/log"
    bad "conversion failed"
fi

say "== convert VideoMAE alone (initialized text embeddings)"
for s in 5 5b 6; do
    seed=${s%b}
    # shellcheck disable=SC2086
    "$py" "$tool" "$dir/videomae.pth" "$dir/noinit$s.svtp" $common --seed "$seed" --vocab-size 300 \
        --max-text-len 20 --quiet 2> "$dir/log$s" || { cat "$dir/log$s"; bad "conversion without BERT failed"; }
done
if [ -f "$dir/noinit5.svtp" ]; then
    "$py" "$dir/t.py" noinit "$dir" "$dir/noinit5.svtp" "$dir/noinit5b.svtp" "$dir/noinit6.svtp" || status=1
    "$check" "$dir/noinit5.svtp" "$dir/noinit.dump" > /dev/null || bad "libsimvtp cannot run the no-BERT file"
fi

say "== convert with old BERT names (embeddings.*, LayerNorm.gamma/beta)"
# shellcheck disable=SC2086
if "$py" "$tool" "$dir/videomae.pth" "$dir/old.svtp" --bert "$dir/bert_old.bin" $common --quiet 2> "$dir/log"; then
    "$py" "$dir/t.py" oldbert "$dir" "$dir/old.svtp" || status=1
else
    cat "$dir/log"
    bad "conversion with old BERT names failed"
fi

say "== errors"
# expect_error WHAT PATTERN ARGS...: exit 2, a one-line message matching PATTERN, no output
expect_error() {
    what=$1 pat=$2
    shift 2
    rm -f "$dir/err.svtp"
    rc=0
    "$py" "$tool" "$@" 2> "$dir/err" > /dev/null || rc=$?
    lines=$(wc -l < "$dir/err")
    if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q "$pat" "$dir/err" && [ ! -e "$dir/err.svtp" ] \
            && [ -z "$(ls "$dir" | grep 'err.svtp.tmp')" ]; then
        say "ok   $what: exit 2: $(cat "$dir/err")"
    else
        bad "$what: exit $rc, $lines lines: $(cat "$dir/err")"
    fi
}
# shellcheck disable=SC2086
expect_error "missing file" "no such file" "$dir/nope.pth" "$dir/err.svtp" $common
# shellcheck disable=SC2086
expect_error "random file" "not a PyTorch checkpoint" "$dir/random.bin" "$dir/err.svtp" $common
# shellcheck disable=SC2086
expect_error "qkv of the wrong shape" "encoder.blocks.1.attn.qkv.weight has shape \[64, 32\], expected \[96, 32\]" \
    "$dir/bad_qkv.pth" "$dir/err.svtp" $common
# shellcheck disable=SC2086
expect_error "BERT of another width" "BERT width 64 differs from the VideoMAE encoder width 32" \
    "$dir/videomae.pth" "$dir/err.svtp" --bert "$dir/bert_wide.bin" $common
# shellcheck disable=SC2086
expect_error "missing BERT file" "no such file" "$dir/videomae.pth" "$dir/err.svtp" --bert "$dir/nope.bin" $common
expect_error "width 32 without --enc-heads" "give --enc-heads" "$dir/videomae.pth" "$dir/err.svtp" \
    --frames 4 --size 48
expect_error "frames not a multiple of the tubelet" "not a multiple of the checkpoint's tubelet" \
    "$dir/videomae.pth" "$dir/err.svtp" --frames 5 --size 48 --enc-heads 4 --dec-heads 2

if [ "$status" -eq 0 ]; then say "RESULT: PASS"; else say "RESULT: FAIL"; fi
exit "$status"
