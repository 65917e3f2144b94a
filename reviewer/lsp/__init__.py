"""The editor front ends: `reviewer lsp` (a language server over stdio) and `reviewer watch`, one file's changes at a time.

Layout, small modules around one `ReviewSession` (docs/editors.md):

- `filereview`: one saved file -> its changed hunks (against the index or HEAD) -> a Review;
  the bad inputs (outside a repository, binary, huge, deleted) as one-line `FileProblem`s.
- `worker`: the background thread: debounced saves, superseded versions cancelled.
- `follow`: findings kept on their code as the buffer changes (content anchors), or withdrawn.
- `convert`: findings -> diagnostics, hover text and code-action edits.
- `server`: the pygls glue; `watch`: the same review as files are saved, printed.
"""
