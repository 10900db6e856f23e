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


def install_line(extra):
    """The exact command that adds an optional extra ('torch', 'viz', 'onnx', 'forecast') to
    the rnnlab this process runs, for a message that says what is missing. From a source
    checkout (the README's `pip install -e '.[all]'`) it names the checkout, since
    `pip install 'rnnlab[torch]'` there would fetch a different rnnlab from the index; a
    wheel install gets the package name. Either way through this interpreter's pip, so the
    extra lands in the environment that runs rnnlab."""
    import os
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pip = f"{sys.executable} -m pip install"
    if os.path.isfile(os.path.join(root, "pyproject.toml")) and \
            os.path.isdir(os.path.join(root, "src", "rnnlab")):
        return f"{pip} -e '{root}[{extra}]'"
    return f"{pip} 'rnnlab[{extra}]'"
