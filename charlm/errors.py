"""The one exception type for mistakes a user can fix: bad input, bad settings, bad files."""


class CharlmError(Exception):
    """A problem the user can fix. The message says what is wrong and what to do.

    The command line prints it on one line and exits with status 2; the app shows it in the page.
    """
