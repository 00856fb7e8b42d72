"""Errors a user can act on.

Every expected failure (bad configuration, unreachable server, bad input file) is raised as an
``EntgraphError`` whose message is one sentence saying what is wrong and how to fix it. The CLI prints
that sentence and exits non-zero without a traceback; anything else is a bug and keeps its traceback.
"""


class EntgraphError(Exception):
    """A failure with a message meant for the person running the platform."""

    exit_code = 1


class ConfigurationError(EntgraphError):
    """A setting is missing, malformed or points at something unusable."""

    exit_code = 2
