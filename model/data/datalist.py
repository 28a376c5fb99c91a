"""Sample lists: one sample a line, tab-separated paths ``rgb  mask  depth  [normals]``, relative to a root.

A task a sample has no label for is left empty or written ``-`` (asymmetric annotations): ``img.png<TAB>-<TAB>d.png``
is a depth-only sample, ``img.png<TAB>m.png`` a segmentation-only one. Blank lines and ``#`` comments are skipped.
"""
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("rgb", "mask", "depth", "normals")


class ListError(ValueError):
    """A list line that cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class Sample:
    rgb: Path
    mask: Path | None = None
    depth: Path | None = None
    normals: Path | None = None
    line: int = 0

    def has(self, task):
        return {"segm": self.mask, "depth": self.depth, "normals": self.normals}[task] is not None


def read_list(list_path, root=None):
    """Samples of a list file; ``root`` defaults to the list's folder."""
    list_path = Path(list_path)
    root = Path(root) if root is not None else list_path.parent
    try:
        text = list_path.read_text()
    except OSError as e:
        raise ListError(f"{list_path}: cannot read the list ({e.strerror or e})") from None
    samples = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in raw.split("\t")]
        if len(fields) > len(COLUMNS) or not fields[0]:
            raise ListError(f"{list_path}:{number}: expected 'rgb<TAB>mask<TAB>depth[<TAB>normals]', got {raw!r}")
        paths = {name: (root / value if value and value != "-" else None)
                 for name, value in zip(COLUMNS, fields)}
        samples.append(Sample(**paths, line=number))
    if not samples:
        raise ListError(f"{list_path}: the list has no samples")
    return samples


def write_list(samples, list_path, root=None):
    """Writes samples as a list file, paths relative to ``root`` (default: the list's folder)."""
    list_path = Path(list_path)
    root = Path(root) if root is not None else list_path.parent
    lines = []
    for s in samples:
        fields = [s.rgb, s.mask, s.depth, s.normals]
        while len(fields) > 1 and fields[-1] is None:
            fields.pop()
        lines.append("\t".join("-" if f is None else _relative(f, root) for f in fields))
    tmp = list_path.with_name(f".{list_path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(list_path)


def _relative(path, root):
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(Path(path).resolve())
