"""One-line error messages."""


def first_line(error, limit=None):
    """An exception as one line: its message's first line (cut at ``limit`` characters), else its type's name."""
    text = str(error).strip().splitlines()
    return text[0][:limit] if text else type(error).__name__
