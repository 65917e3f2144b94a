"""reviewer: a local-first code review assistant running a GGUF code model in-process."""

__version__ = "0.1.0"
