"""Greedy, grammar-constrained generation driven from Python, the way llama.cpp's own tools do it.

`Llama.create_chat_completion` runs the JSON-schema grammar over the whole vocabulary
(~152k tokens for Qwen) before every token: on this project's 2-core reference machine
that was ~31 ms per token, a third of the generation time. llama.cpp's own sampler
(common/sampling.cpp) avoids it by checking only the token it was about to pick and
applying the grammar to the whole vocabulary just when that token is rejected. With
greedy decoding the result is the same token either way: the best-scoring token the
grammar allows. `GreedyGenerator` does exactly that, plus:

- no repeat penalty, like `create_chat_completion` (it passes repeat_penalty=1.0), so
  answers match `create_chat_completion(temperature=0)` token for token;
- prompt-prefix reuse: tokens already in the KV cache from the previous request are
  not evaluated again, and a `PrefixStore` (prefix_store.py) can restore the KV state
  of a shared prefix saved by an earlier process.

Used for every chat template except the few that llama-cpp-python recognises in a
file and formats with its own code (see LlamaCppBackend._load_locked).
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    evaluated_prompt_tokens: int  # prompt tokens actually decoded (not reused from the KV cache)
    confidence: float | None = None  # P(the findings list is not empty), see `_FindingsMeter`


# Where the answer schema's list of findings is about to open, and just after it opened:
# the next token there says whether the model thinks the change has a problem.
_BEFORE_FINDINGS = re.compile(rb'"findings"\s*:\s*$')
_IN_FINDINGS = re.compile(rb'"findings"\s*:\s*\[\s*$')
_TOP_K = 64  # candidates classified at those points; the rest of the probability mass is negligible


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class GreedyGenerator:
    """Chat prompt -> tokens -> greedy answer under an optional JSON-schema grammar.

    Args:
        llm: a loaded `llama_cpp.Llama`.
        template: the Jinja chat template to render prompts with; default the file's own.
    """

    def __init__(self, llm: Any, template: str | None = None) -> None:
        import llama_cpp
        from llama_cpp import llama_chat_format

        self._lib = llama_cpp
        self.llm = llm
        model = llm._model
        eos, bos = llm.token_eos(), llm.token_bos()
        self._formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template if template is not None else llm.metadata["tokenizer.chat_template"],
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        self._vocab = model.vocab
        self._n_vocab = llm.n_vocab()
        # One reusable candidates array over the whole vocabulary, and a 1-slot one.
        self._all = (llama_cpp.llama_token_data * self._n_vocab)()
        self._all_view = np.ctypeslib.as_array(self._all)  # structured: id, logit, p
        self._all_view["id"] = np.arange(self._n_vocab, dtype=np.int32)
        self._one = (llama_cpp.llama_token_data * 1)()
        self._grammars: dict[str, tuple[bytes, bytes]] = {}

    # -- prompt --------------------------------------------------------------------

    def prompt_text(self, messages: list[dict[str, str]]) -> str:
        """The chat template rendered for these messages (special tokens still as text)."""
        return self._formatter(messages=messages).prompt

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """The tokens `create_chat_completion` would feed the model for these messages.

        The template writes special tokens as text (`<s>`, `<|im_start|>`), hence special=True;
        and no BOS is added on top: a template that wants one writes it (add_bos=False, as
        Jinja2ChatFormatter's added_special=True asks)."""
        result = self._formatter(messages=messages)
        return list(self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True))

    def cached_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading `tokens` are already in the KV cache."""
        llm = self.llm
        return common_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens)

    def evaluate(self, tokens: Sequence[int]) -> int:
        """Make the KV cache hold exactly `tokens`, decoding only what is not there yet.
        Returns the number of tokens decoded. The last token is always decoded so that
        fresh logits exist for sampling."""
        llm = self.llm
        keep = min(self.cached_prefix(tokens), len(tokens) - 1)
        if keep < llm.n_tokens:
            if keep == 0 or not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
                llm.reset()
                llm._ctx.kv_cache_clear()
                keep = 0
            llm.n_tokens = keep
        rest = list(tokens[keep:])
        llm.eval(rest)
        return len(rest)

    # -- grammar -------------------------------------------------------------------

    def _grammar_sampler(self, schema: dict[str, Any]) -> Any:
        import json

        from llama_cpp import llama_grammar

        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
            self._grammars[key] = (gbnf.encode("utf-8"), b"root")
        text, root = self._grammars[key]
        sampler = self._lib.llama_sampler_init_grammar(self._vocab, text, root)
        if not sampler:
            raise ValueError("the JSON schema could not be turned into a grammar")
        return sampler

    def _allowed(self, grammar: Any, token: int, logit: float) -> bool:
        one = self._one
        one[0].id, one[0].logit, one[0].p = token, logit, 0.0
        arr = self._lib.llama_token_data_array(data=one, size=1, selected=-1, sorted=False)
        self._lib.llama_sampler_apply(grammar, ctypes.byref(arr))
        return bool(np.isfinite(one[0].logit))

    def _constrained_argmax(self, grammar: Any, logits: np.ndarray) -> int:
        view = self._all_view
        view["logit"] = logits
        arr = self._lib.llama_token_data_array(data=self._all, size=self._n_vocab, selected=-1, sorted=False)
        self._lib.llama_sampler_apply(grammar, ctypes.byref(arr))
        return int(np.argmax(view["logit"]))

    # -- generation ----------------------------------------------------------------

    def generate(self, tokens: Sequence[int], schema: dict[str, Any] | None, max_tokens: int) -> Generation:
        """Greedy completion of prompt `tokens` (see the module docstring)."""
        lib, llm = self._lib, self.llm
        evaluated = self.evaluate(tokens)
        picker = self.picker(schema, max_tokens)
        try:
            while True:
                logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(self._n_vocab,))
                token = picker.pick(logits)
                if token is None:
                    break
                llm.eval([token])
        finally:
            picker.close()
        return picker.generation(len(tokens), evaluated)

    def picker(self, schema: dict[str, Any] | None, max_tokens: int) -> TokenPicker:
        """The per-answer state of greedy decoding (grammar, tokens so far, confidence): one
        per sequence, so that several answers can be decoded together (batched.py)."""
        return TokenPicker(self, self._grammar_sampler(schema) if schema is not None else None, max_tokens)

    def _allowed_probabilities(self, grammar: Any, logits: np.ndarray) -> list[tuple[bytes, float]]:
        """The likeliest tokens the grammar allows here, as (text, probability among allowed tokens)."""
        view = self._all_view
        view["logit"] = logits
        arr = self._lib.llama_token_data_array(data=self._all, size=self._n_vocab, selected=-1, sorted=False)
        self._lib.llama_sampler_apply(grammar, ctypes.byref(arr))
        masked = np.array(view["logit"], dtype=np.float64)
        top = np.argpartition(masked, -_TOP_K)[-_TOP_K:]
        best = float(masked[top].max())
        if not np.isfinite(best):
            return []
        total = float(np.exp(masked[np.isfinite(masked)] - best).sum())
        return [(self.llm.detokenize([int(t)]), float(np.exp(masked[t] - best)) / total)
                for t in top if np.isfinite(masked[t])]


class TokenPicker:
    """Picks one answer's tokens from the logits the model gives for it, one at a time.

    `pick` returns the next token to feed the model, or None when the answer is complete
    (end of generation, or `max_tokens` picked: the last token is never fed, its logits
    would not be used). The grammar is freed by `close`.
    """

    def __init__(self, owner: GreedyGenerator, grammar: Any, max_tokens: int) -> None:
        self._owner = owner
        self._grammar = grammar
        self.max_tokens = max_tokens
        self.tokens: list[int] = []
        self.text = b""
        self.done = max_tokens <= 0
        self._meter = _FindingsMeter()

    def pick(self, logits: np.ndarray) -> int | None:
        if self.done:
            return None
        owner, grammar, lib = self._owner, self._grammar, self._owner._lib
        if grammar is not None and self._meter.wants(self.text):
            self._meter.observe(self.text, owner._allowed_probabilities(grammar, logits))
        token = int(np.argmax(logits))
        if grammar is not None and not owner._allowed(grammar, token, float(logits[token])):
            token = owner._constrained_argmax(grammar, logits)
        if grammar is not None:
            lib.llama_sampler_accept(grammar, token)
        if lib.llama_vocab_is_eog(owner._vocab, token):
            self.done = True
            return None
        self.tokens.append(token)
        self.text += owner.llm.detokenize([token])
        if len(self.tokens) >= self.max_tokens:
            self.done = True
            return None
        return token

    def generation(self, prompt_tokens: int, evaluated: int) -> Generation:
        answer = self._owner.llm.detokenize(self.tokens).decode("utf-8", errors="replace")
        return Generation(answer, prompt_tokens, len(self.tokens), evaluated, self._meter.confidence())

    def close(self) -> None:
        if self._grammar is not None:
            self._owner._lib.llama_sampler_free(self._grammar)
            self._grammar = None


class _FindingsMeter:
    """How sure the model is that the change has a problem, read from the token
    probabilities where the answer's findings list opens; no extra model call.

    Right after `"findings":` the grammar allows tokens that open the list with an item
    (` [{"`), open it empty (` []`), or only open it (` [`, ` [\n`). For the last kind
    the token after the bracket decides (`{` or `]`): measured when greedy decoding took
    that path, otherwise estimated by the direct tokens' ratio.
    """

    def __init__(self) -> None:
        self.item = self.empty = self.bracket = 0.0
        self.after_bracket: float | None = None
        self._stage = 0  # 0: before the list, 1: just inside it, 2: done

    def wants(self, text: bytes) -> bool:
        if self._stage == 0:
            return bool(_BEFORE_FINDINGS.search(text))
        if self._stage == 1:
            if _IN_FINDINGS.search(text):
                return True
            self._stage = 2  # the list opened with its first token: nothing more to read
        return False

    def observe(self, text: bytes, allowed: list[tuple[bytes, float]]) -> None:
        if self._stage == 0:
            for piece, p in allowed:
                rest = piece.strip()
                if rest.startswith(b"[{"):
                    self.item += p
                elif rest.startswith((b"[]", b"[ ]")):
                    self.empty += p
                elif rest == b"[":
                    self.bracket += p
            self._stage = 1
            return
        item = sum(p for piece, p in allowed if piece.strip().startswith(b"{"))
        empty = sum(p for piece, p in allowed if piece.strip().startswith(b"]"))
        self.after_bracket = item / (item + empty) if item + empty > 0 else None
        self._stage = 2

    def confidence(self) -> float | None:
        direct = self.item + self.empty
        q = self.after_bracket
        if q is None:
            q = self.item / direct if direct > 0 else None
        if q is None:
            return None
        total = direct + self.bracket
        return (self.item + self.bracket * q) / total if total > 0 else None
