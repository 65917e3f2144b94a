"""The exception types the command line turns into `error: ...` and exit status 2."""


class ReviewerError(Exception):
    """A user-facing failure: bad input, missing model, dead server.

    The message is one line that says what went wrong and how to fix it; the CLI
    prints it on stderr without a traceback and exits 2.
    """


class ModelUnavailable(ReviewerError):
    """The model could not run: missing, failed to load, raised while answering, unreachable, timed out.

    A git hook decides by `hook_policy` whether this blocks the commit; everywhere else it is
    reported like any other ReviewerError (exit 2).
    """


class NotAnswered(ModelUnavailable):
    """The model stopped answering part way: a deadline passed (`hook-timeout`) or its process died.

    The pipeline keeps the answers that came before and reports the remaining hunks as not
    reviewed (`HunkResult.skipped_reason` starting with `NOT_REVIEWED`), instead of failing the run.
    """
