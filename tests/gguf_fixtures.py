"""Tiny GGUF files for tests: real llama / qwen2 architectures and tokenizers, random weights.

No CodeLlama weights can be fetched offline, so these stand in for them: llama.cpp
loads them through the same code paths as the real files (the architecture, the
tokenizer kind and its special tokens, `tokenizer.chat_template`), only the tensors
are a few kilobytes of noise. What the model answers is garbage; how reviewer builds
its prompt from the file's metadata is exactly what it does for the real model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# codellama/CodeLlama-7b-Instruct-hf tokenizer_config.json "chat_template": the Llama 2
# chat template (a system message goes inside the first [INST] between <<SYS>> markers).
CODELLAMA_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content | trim + ' ' + eos_token }}{% endif %}{% endfor %}"
)

# Qwen2.5-Coder-Instruct's template, copied from the metadata of the project's default model
# (qwen2.5-coder-1.5b-instruct-q4_k_m.gguf); test_gguf_models.py checks the copy against that file.
QWEN_CHAT_TEMPLATE = (Path(__file__).parent / "data" / "qwen2.5-coder-chat-template.jinja").read_text()

# Pieces of a SentencePiece vocabulary, enough that "[INST]" and "[/INST]" split the way
# CodeLlama's own tokenizer splits them (▁[ INST ] and ▁[ / INST ]); every other text falls
# back to the byte tokens <0x00>..<0xFF>, as SentencePiece does for pieces it lacks.
_SPM_PIECES = ["▁", "[", "]", "/", "I", "N", "S", "T", "▁[", "IN", "ST", "INST", "<", ">", "<<", ">>", "▁<<",
               "Y", "SY", "SYS"]

_NORMAL, _UNKNOWN, _CONTROL, _BYTE = 1, 2, 3, 6  # gguf.TokenType


def _byte_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, which byte-level BPE vocabularies are written in."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _weights(writer: object, rng: np.random.Generator, n_vocab: int, n_embd: int, n_head: int, n_head_kv: int,
             n_ff: int, n_layer: int, qkv_bias: bool) -> None:
    """Random f32 tensors in llama.cpp's layout (numpy shape = GGUF dims reversed)."""
    head = n_embd // n_head

    def put(name: str, *shape: int) -> None:
        if len(shape) == 1:  # norms: around 1, like trained ones
            data = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            data = rng.standard_normal(shape) / np.sqrt(shape[-1])
        writer.add_tensor(name, data.astype(np.float32))  # type: ignore[attr-defined]

    put("token_embd.weight", n_vocab, n_embd)
    put("output_norm.weight", n_embd)
    put("output.weight", n_vocab, n_embd)
    for i in range(n_layer):
        put(f"blk.{i}.attn_norm.weight", n_embd)
        put(f"blk.{i}.attn_q.weight", n_head * head, n_embd)
        put(f"blk.{i}.attn_k.weight", n_head_kv * head, n_embd)
        put(f"blk.{i}.attn_v.weight", n_head_kv * head, n_embd)
        if qkv_bias:
            put(f"blk.{i}.attn_q.bias", n_head * head)
            put(f"blk.{i}.attn_k.bias", n_head_kv * head)
            put(f"blk.{i}.attn_v.bias", n_head_kv * head)
        put(f"blk.{i}.attn_output.weight", n_embd, n_head * head)
        put(f"blk.{i}.ffn_norm.weight", n_embd)
        put(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        put(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        put(f"blk.{i}.ffn_down.weight", n_embd, n_ff)


def _write(path: Path, arch: str, vocab_kv: dict[str, object], n_vocab: int, chat_template: str | None,
           seed: int, qkv_bias: bool) -> Path:
    import gguf

    n_embd, n_head, n_head_kv, n_ff, n_layer = 32, 4, 2, 64, 1
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tiny-{arch}-random")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(4096)
    w.add_embedding_length(n_embd)
    w.add_feed_forward_length(n_ff)
    w.add_block_count(n_layer)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model(str(vocab_kv["model"]))
    if "pre" in vocab_kv:
        w.add_tokenizer_pre(str(vocab_kv["pre"]))
    w.add_token_list(vocab_kv["tokens"])  # type: ignore[arg-type]
    w.add_token_types(vocab_kv["types"])  # type: ignore[arg-type]
    if "scores" in vocab_kv:
        w.add_token_scores(vocab_kv["scores"])  # type: ignore[arg-type]
    if "merges" in vocab_kv:
        w.add_token_merges(vocab_kv["merges"])  # type: ignore[arg-type]
    w.add_bos_token_id(int(vocab_kv["bos"]))  # type: ignore[call-overload]
    w.add_eos_token_id(int(vocab_kv["eos"]))  # type: ignore[call-overload]
    if "unk" in vocab_kv:
        w.add_unk_token_id(int(vocab_kv["unk"]))  # type: ignore[call-overload]
    w.add_add_bos_token(bool(vocab_kv["add_bos"]))
    if chat_template is not None:
        w.add_chat_template(chat_template)
    _weights(w, np.random.default_rng(seed), n_vocab, n_embd, n_head, n_head_kv, n_ff, n_layer, qkv_bias)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_codellama(path: Path, chat_template: str | None = CODELLAMA_CHAT_TEMPLATE, seed: int = 0) -> Path:
    """A CodeLlama-shaped GGUF: llama architecture, SentencePiece vocabulary with <unk> <s> </s>
    at ids 0-2 and byte fallback tokens (as CodeLlama's), CodeLlama-Instruct's chat template."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + _SPM_PIECES
    types = [_UNKNOWN, _CONTROL, _CONTROL] + [_BYTE] * 256 + [_NORMAL] * len(_SPM_PIECES)
    # SentencePiece merges the highest-scoring adjacent pair first; longer pieces score higher
    scores = [0.0] * (3 + 256) + [-100.0 + len(p) for p in _SPM_PIECES]
    vocab = {"model": "llama", "tokens": tokens, "types": types, "scores": scores,
             "bos": 1, "eos": 2, "unk": 0, "add_bos": True}
    return _write(path, "llama", vocab, len(tokens), chat_template, seed, qkv_bias=False)


QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def write_qwen(path: Path, chat_template: str | None = QWEN_CHAT_TEMPLATE, seed: int = 0) -> Path:
    """A Qwen2.5-shaped GGUF: qwen2 architecture, byte-level BPE (`gpt2`, pre-tokenizer `qwen2`)
    with a few merges, <|endoftext|> <|im_start|> <|im_end|> as control tokens, Qwen's template."""
    byte_chars = _byte_unicode()
    base = [byte_chars[b] for b in range(256)]
    merges = ["Ġ t", "i n", "e r", "Ġ a", "r e", "o n"]
    merged = [m.replace(" ", "") for m in merges]
    tokens = base + merged + QWEN_SPECIAL
    types = [_NORMAL] * (len(base) + len(merged)) + [_CONTROL] * len(QWEN_SPECIAL)
    first_special = len(base) + len(merged)
    # as in Qwen's own GGUFs: bos <|endoftext|> (never added), eos <|im_end|>
    vocab = {"model": "gpt2", "pre": "qwen2", "tokens": tokens, "types": types, "merges": merges,
             "bos": first_special, "eos": first_special + 2, "add_bos": False}
    return _write(path, "qwen2", vocab, len(tokens), chat_template, seed, qkv_bias=True)
