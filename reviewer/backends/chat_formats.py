"""Which chat template formats a GGUF model's prompts: the file's own, or a named one from the settings.

A chat model only answers well when its prompt is laid out the way it was trained
(CodeLlama: `<s>[INST] <<SYS>>...<</SYS>>\n\n... [/INST]`; Qwen: ChatML). Recent GGUF
files carry that layout as a Jinja template in `tokenizer.chat_template`, and it is
used as is. Older files (most CodeLlama GGUFs were converted before the key existed)
carry none; llama-cpp-python then silently falls back to its own "llama-2" layout,
which differs from CodeLlama's (one space instead of a blank line after `<</SYS>>`)
and is plainly wrong for a ChatML model. So a file without a template needs a
`chat_format` setting, or a registry entry that knows its format; otherwise loading
fails with one line that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reviewer.errors import ReviewerError

TEMPLATE_KEY = "tokenizer.chat_template"
FROM_FILE = "the file's metadata"

# The Llama 2 chat template as shipped in codellama/CodeLlama-*-Instruct-hf's tokenizer_config.json.
LLAMA_2 = (
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

# Plain ChatML (Qwen, Yi, OpenHermes, ...): for a system + user conversation the same text as Qwen2.5's template.
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

TEMPLATES: dict[str, str] = {"llama-2": LLAMA_2, "chatml": CHATML}  # keys: config.CHAT_FORMATS (a test checks)


@dataclass(frozen=True)
class ChatTemplate:
    """The Jinja template prompts are rendered with, and where it came from (for messages and docs)."""

    text: str
    origin: str  # FROM_FILE | "chat_format = NAME" | "the registry (NAME)"

    @property
    def from_file(self) -> bool:
        return self.origin == FROM_FILE


def choose_template(metadata: dict[str, Any] | None, configured: str | None, known: str | None,
                    model: str, path: object) -> ChatTemplate:
    """The template for a loaded model.

    `configured` (the chat_format setting) wins: the user asked for it. Else the file's
    own `tokenizer.chat_template`. Else `known`, the format the model registry records
    for this model. Else a ReviewerError naming the setting: guessing would review with
    a prompt the model was not trained on, and its answers would quietly get worse.
    """
    if configured:
        return ChatTemplate(TEMPLATES[configured], f"chat_format = {configured}")
    own = (metadata or {}).get(TEMPLATE_KEY)
    if own:
        return ChatTemplate(str(own), FROM_FILE)
    if known:
        return ChatTemplate(TEMPLATES[known], f"the registry ({known})")
    raise ReviewerError(
        f"model {model} ({path}) has no chat template in its metadata ({TEMPLATE_KEY}), so the prompt format "
        "is unknown; set chat_format to llama-2 (CodeLlama, Llama 2) or chatml (Qwen and most others) with "
        "--chat-format, REVIEWER_CHAT_FORMAT or chat_format in .reviewer.toml"
    )


__all__ = ["CHATML", "FROM_FILE", "LLAMA_2", "TEMPLATES", "TEMPLATE_KEY", "ChatTemplate", "choose_template"]
