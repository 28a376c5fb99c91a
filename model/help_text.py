"""What the command lines' --help texts share: plain text at one width, choices and defaults in the option
texts, examples in the epilog, and one wording for the flags that take a checkpoint."""
import argparse
import re
import textwrap

WIDTH = 100  # columns of every help text
HELP_POSITION = 30  # column where option descriptions start


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter at ``WIDTH`` columns whatever the terminal; descriptions and epilogs are laid out by
    ``plain`` beforehand and kept as they are."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=HELP_POSITION, width=WIDTH)


def plain(text, width=WIDTH - 2):
    """A docstring as help text: reST double backticks dropped, paragraphs wrapped at ``width`` (argparse keeps
    two columns of ``WIDTH`` free); indented lines (commands, tables) and list items ("- ") keep their own
    lines."""
    text = textwrap.dedent(text.replace("``", "")).strip("\n")
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.splitlines()
        if all(line.startswith((" ", "\t")) for line in lines):
            out.append("\n".join(lines))
            continue
        items, current = [], []
        for line in lines:
            if line.startswith("- ") and current:
                items.append(current)
                current = []
            current.append(line.strip())
        items.append(current)
        out.append("\n".join(textwrap.fill(" ".join(item), width, subsequent_indent="  " if item[0].startswith("- ")
                                           else "", break_on_hyphens=False) for item in items))
    return "\n\n".join(out)


def parser(prog, doc, examples, **kwargs):
    """An ``ArgumentParser`` with ``doc`` (a docstring) as its description and ``examples`` (lines of commands,
    each with an optional ``# comment``) as its epilog, both laid out at ``WIDTH``."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples.strip("\n").splitlines())
    return argparse.ArgumentParser(prog=prog, description=plain(doc), epilog=epilog,
                                   formatter_class=HelpFormatter, **kwargs)
