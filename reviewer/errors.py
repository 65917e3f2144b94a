"""The one exception type the command line turns into `error: ...` and exit status 2."""


class ReviewerError(Exception):
    """A user-facing failure: bad input, missing model, dead server.

    The message is one line that says what went wrong and how to fix it; the CLI
    prints it on stderr without a traceback and exits 2.
    """
