"""The terminal UI (Textual): findings stream in while the model works; `reviewer tui` is reviewer/commands/tui.py.

Keys (n/p, ]/[, a, u, d, r, c, f, e, ?, q) are listed in docs/tui.md and on `?`.
"""
