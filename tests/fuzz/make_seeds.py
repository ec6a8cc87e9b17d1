#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_gguf (small valid GGUF files) into corpus/.

Run from tests/fuzz: python3 make_seeds.py. The files are committed; this documents how they
were made."""
import struct

def s(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack('<Q', len(b)) + b

def kv_str(k, v): return s(k) + struct.pack('<I', 8) + s(v)
def kv_u32(k, v): return s(k) + struct.pack('<II', 4, v)
def kv_f32(k, v): return s(k) + struct.pack('<If', 6, v)
def kv_arr_str(k, xs): return s(k) + struct.pack('<IIQ', 9, 8, len(xs)) + b''.join(s(x) for x in xs)
def kv_arr(k, t, fmt, xs): return s(k) + struct.pack('<IIQ', 9, t, len(xs)) + struct.pack('<%d%s' % (len(xs), fmt), *xs)

def gguf(kvs, tensors, version=3, align=32):
    """tensors: (name, ne list, type, data bytes)"""
    out = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs)) + b''.join(kvs)
    off = 0
    infos = b''
    for name, ne, typ, data in tensors:
        infos += s(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne)
        infos += struct.pack('<IQ', typ, off)
        off += (len(data) + align - 1) // align * align
    out += infos
    out += b'\0' * ((-len(out)) % align)
    for _, _, _, data in tensors:
        out += data + b'\0' * ((-len(data)) % align)
    return out

# 1. every value type and two tensors
every = [
    kv_str('general.architecture', 'llama'), kv_u32('general.alignment', 32),
    s('k.u8') + struct.pack('<IB', 0, 7), s('k.i8') + struct.pack('<Ib', 1, -7),
    s('k.u16') + struct.pack('<IH', 2, 7), s('k.i16') + struct.pack('<Ih', 3, -7),
    kv_u32('k.u32', 7), s('k.i32') + struct.pack('<Ii', 5, -7), kv_f32('k.f32', 0.5),
    s('k.bool') + struct.pack('<IB', 7, 1), kv_str('k.str', 'hello'),
    s('k.u64') + struct.pack('<IQ', 10, 7), s('k.i64') + struct.pack('<Iq', 11, -7),
    s('k.f64') + struct.pack('<Id', 12, 0.25), kv_arr('k.arr', 5, 'i', [1, 2, 3]),
]
open('corpus/every-type.gguf', 'wb').write(gguf(every, [
    ('a', [4, 2], 0, struct.pack('<8f', *range(8))),
    ('b', [32], 8, bytes(range(34))),
]))

# 2. a vocabulary-only file: <unk> <s> </s>, 256 byte tokens, a few pieces
toks = ['<unk>', '<s>', '</s>'] + ['<0x%02X>' % b for b in range(256)] + \
       ['\u2581', '\u2581a', 'ab', '\u2581ab', 'b', 'c', '\u2581the', 'he', 'th', 't', 'e']
vocab = [
    kv_str('general.architecture', 'llama'), kv_str('tokenizer.ggml.model', 'llama'),
    kv_arr_str('tokenizer.ggml.tokens', toks),
    kv_arr('tokenizer.ggml.scores', 6, 'f', [0.0] * 259 + [-float(i) for i in range(len(toks) - 259)]),
    kv_arr('tokenizer.ggml.token_type', 5, 'i', [2, 3, 3] + [6] * 256 + [1] * (len(toks) - 259)),
    kv_u32('tokenizer.ggml.bos_token_id', 1), kv_u32('tokenizer.ggml.eos_token_id', 2),
]
open('corpus/vocab.gguf', 'wb').write(gguf(vocab, []))

# 3. a one-layer llama with a tied output (dim 32, hidden 64, 2 heads, vocab 8), F32/F16/Q8_0/Q4_0
def f32(n): return struct.pack('<%df' % n, *[0.01 * i for i in range(n)])
llama = [
    kv_str('general.architecture', 'llama'), kv_u32('llama.context_length', 16),
    kv_u32('llama.embedding_length', 32), kv_u32('llama.block_count', 1),
    kv_u32('llama.feed_forward_length', 64), kv_u32('llama.attention.head_count', 2),
    kv_u32('llama.attention.head_count_kv', 1), kv_f32('llama.rope.freq_base', 10000.0),
]
open('corpus/llama-tiny.gguf', 'wb').write(gguf(llama, [
    ('token_embd.weight', [32, 8], 0, f32(256)), ('output_norm.weight', [32], 0, f32(32)),
    ('blk.0.attn_norm.weight', [32], 0, f32(32)), ('blk.0.attn_q.weight', [32, 32], 1, bytes(2048)),
    ('blk.0.attn_k.weight', [32, 16], 8, bytes(34 * 16)), ('blk.0.attn_v.weight', [32, 16], 2, bytes(18 * 16)),
    ('blk.0.attn_output.weight', [32, 32], 0, f32(1024)), ('blk.0.ffn_norm.weight', [32], 0, f32(32)),
    ('blk.0.ffn_gate.weight', [32, 64], 8, bytes(34 * 64)), ('blk.0.ffn_up.weight', [32, 64], 8, bytes(34 * 64)),
    ('blk.0.ffn_down.weight', [64, 32], 2, bytes(36 * 32)),
]))

# 4. version 2 with a non-default alignment
open('corpus/v2-align64.gguf', 'wb').write(gguf([kv_u32('general.alignment', 64), kv_str('general.name', 'x')],
                                                [('t', [3], 0, struct.pack('<3f', 1, 2, 3))], version=2, align=64))

# 5. a llama whose ffn_down is Q6_K (hidden 256): a mixed-type file
llama6 = [kv_u32('llama.feed_forward_length', 256) if b'feed_forward' in k else k for k in llama]
open('corpus/llama-q6k.gguf', 'wb').write(gguf(llama6, [
    ('token_embd.weight', [32, 8], 0, f32(256)), ('output_norm.weight', [32], 0, f32(32)),
    ('blk.0.attn_norm.weight', [32], 0, f32(32)), ('blk.0.attn_q.weight', [32, 32], 0, f32(1024)),
    ('blk.0.attn_k.weight', [32, 16], 0, f32(512)), ('blk.0.attn_v.weight', [32, 16], 0, f32(512)),
    ('blk.0.attn_output.weight', [32, 32], 0, f32(1024)), ('blk.0.ffn_norm.weight', [32], 0, f32(32)),
    ('blk.0.ffn_gate.weight', [32, 256], 8, bytes(34 * 256)), ('blk.0.ffn_up.weight', [32, 256], 8, bytes(34 * 256)),
    ('blk.0.ffn_down.weight', [256, 32], 14, bytes(210 * 32)),
]))

# 6. the same llama with the other block formats: ffn_down Q4_K (a 256-element super-block per row),
# ffn_gate Q5_0, ffn_up Q4_1
open('corpus/llama-kquants.gguf', 'wb').write(gguf(llama6, [
    ('token_embd.weight', [32, 8], 0, f32(256)), ('output_norm.weight', [32], 0, f32(32)),
    ('blk.0.attn_norm.weight', [32], 0, f32(32)), ('blk.0.attn_q.weight', [32, 32], 0, f32(1024)),
    ('blk.0.attn_k.weight', [32, 16], 0, f32(512)), ('blk.0.attn_v.weight', [32, 16], 0, f32(512)),
    ('blk.0.attn_output.weight', [32, 32], 0, f32(1024)), ('blk.0.ffn_norm.weight', [32], 0, f32(32)),
    ('blk.0.ffn_gate.weight', [32, 256], 6, bytes(22 * 256)), ('blk.0.ffn_up.weight', [32, 256], 3, bytes(20 * 256)),
    ('blk.0.ffn_down.weight', [256, 32], 12, bytes(144 * 32)),
]))
# 7. vocab-bpe.gguf, a byte-level BPE vocabulary (tokenizer.ggml.model gpt2, pre llama-bpe, with
# merges), is not written here but converted from the tiny tokenizer.json fixture:
#   ./joulebench model vocab-from-hf tests/fixtures/tokenizer/tiny-tokenizer.json -o tests/fuzz/corpus/vocab-bpe.gguf
# The seeds of fuzz_vocab_json (corpus-json/) are that tokenizer.json and a GPT-2 style variant.
