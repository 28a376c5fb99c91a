"""One-line error messages."""


def first_line(error):
    """An exception as one line: its message's first line, else its type's name."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
