"""finngen's errors: each one is a single line for the user and an exit code.

The exit codes are the same across every subcommand and are listed in the README.
"""


class FinngenError(Exception):
    """An error the user can fix. ``str()`` is the problem; ``fix`` says what to do."""
    exit_code = 1

    def __init__(self, message, fix=None):
        super().__init__(message)
        self.fix = fix

    def line(self) -> str:
        text = str(self)
        return f"{text} ({self.fix})" if self.fix else text


class UsageError(FinngenError):
    """Bad command-line options."""
    exit_code = 2


class ModelError(FinngenError):
    """The model file cannot be read, or uses what finngen does not support."""
    exit_code = 3


class InputDataError(FinngenError):
    """The images given with --input are not what the model takes."""
    exit_code = 4


class DoesNotFitError(FinngenError):
    """No design meets the target on the chosen board."""
    exit_code = 5


class MissingToolError(FinngenError):
    """A simulator, synthesis tool or vendor tool is not installed."""
    exit_code = 6


class MismatchError(FinngenError):
    """The hardware disagreed with the golden model."""
    exit_code = 7


class ToolError(FinngenError):
    """An external tool (yosys, Vivado) ran and failed."""
    exit_code = 8


EXIT_CODES = {cls.exit_code: cls for cls in
              (UsageError, ModelError, InputDataError, DoesNotFitError, MissingToolError, MismatchError, ToolError)}
