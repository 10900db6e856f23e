"""rnnlab's own error type.

Every problem with a user's input (a file, an option, a model file, an array of the wrong shape)
is raised as `RnnlabError`, a `ValueError`, with a one-line message that names the problem and
the fix. The command line turns it into exit code 2 without a traceback.
"""


class RnnlabError(ValueError):
    """Bad input: the message names what was wrong and how to fix it."""


class RnnlabWarning(UserWarning):
    """Something the user should know that does not stop the work (an unseen character mapped
    to <unk>, an all-silent music sample). The command line prints it as one line:
    `rnnlab: warning: ...`."""
