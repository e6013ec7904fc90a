"""The error every ``ketamine-meta`` command raises for bad input."""


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""
