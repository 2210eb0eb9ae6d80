"""The one exception type for mistakes a user can fix: bad input, bad settings, bad files."""


class CharlmError(Exception):
    """A problem the user can fix. The message says what is wrong and what to do.

    The command line prints it on one line and exits with status 2; the app shows it in the page.
    """


def scrubbed(message: str, token) -> str:
    """`message` with a secret `token` (a string; anything else is no secret) replaced by ***."""
    return message.replace(token, "***") if isinstance(token, str) and token else message


def check_whole(value, name: str, low: float, high: float) -> int:
    """A whole number from a widget, an option or a file, or a CharlmError naming `name` and the range."""
    if value is None or value == "":
        raise CharlmError(f"{name} is empty; give a whole number from {low:g} to {high:g}.")
    number = _number(value, name, f"a whole number from {low:g} to {high:g}")
    if not low <= number <= high or number != int(number):  # NaN and infinity fail the range
        raise CharlmError(f"{name} must be a whole number from {low:g} to {high:g}, not {value!r}.")
    return int(number)


def check_real(value, name: str, low: float, high: float) -> float:
    """A number in [low, high], or a CharlmError naming `name` and the range."""
    if value is None or value == "":
        raise CharlmError(f"{name} is empty; give a number from {low:g} to {high:g}.")
    number = _number(value, name, f"a number from {low:g} to {high:g}")
    if not low <= number <= high:  # NaN fails this too
        raise CharlmError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}.")
    return number


def _number(value, name: str, wanted: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CharlmError(f"{name} must be {wanted}, not {value!r}.") from None
