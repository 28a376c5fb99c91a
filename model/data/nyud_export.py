"""Writes NYUDv2's official files as this project's list layout, for ``python -m model train`` and ``evaluate``.

From ``nyu_depth_v2_labeled.mat`` and ``splits.mat`` (default: the official split carried in the project): every
image of the chosen split(s) as ``DIR/rgb/NNNN.png``, its 40-class index mask (255 = unlabelled) as
``DIR/masks/NNNN.png`` and its depth as a 16-bit ``DIR/depth/NNNN.png`` holding metres x 5000 (the nyud preset's
scale; 0 where there is no measurement or the depth is past 13.1 m), NNNN the image's 1-based index in the file;
then ``DIR/train.txt`` and ``DIR/test.txt``. One image at a time (memory flat); Ctrl-C stops and writes lists of
the images done.
"""
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model import help_text as cli
from model.files import write_png
from model.presets import get_preset

from .datalist import Sample, write_list
from .nyud_mat import SPLIT_KEYS, NyudMatError, open_split

EXAMPLES = """
python -m model nyud-list --nyud-mat nyu_depth_v2_labeled.mat --splits splits.mat --out nyud
python -m model train --train nyud/train.txt --val nyud/test.txt --preset nyud --out runs/nyud
"""
FOLDERS = ("rgb", "masks", "depth")


def depth_png(depth, scale):
    """Metres -> 16-bit PNG values (metres x ``scale``); 0 for no measurement and for depths past the range."""
    values = np.rint(np.where(np.isfinite(depth) & (depth > 0), depth, 0) * scale)
    return np.where(values <= np.iinfo(np.uint16).max, values, 0).astype(np.uint16)


def export(reader, splits, out, names=("train", "test"), progress=True):
    """Writes the images of ``splits[name]`` for each of ``names`` and a list per name; returns
    ({name: (list path, images)}, complete). Ctrl-C ends early with the lists of the images done."""
    out = Path(out)
    scale = get_preset("nyud").depth_png_scale
    done = {name: [] for name in names}
    jobs = [(name, int(i)) for name in names for i in splits[name]]
    bar = tqdm(jobs, desc="exporting", unit="img", file=sys.stderr, dynamic_ncols=True, disable=not progress)
    complete = True
    try:
        for name, number in bar:
            image, depth, classes = reader.frame(number - 1)
            paths = [out / folder / f"{number:04d}.png" for folder in FOLDERS]
            for path, array in zip(paths, (image, classes, depth_png(depth, scale))):
                write_png(path, array)
            done[name].append(Sample(*paths, line=number))
    except KeyboardInterrupt:
        complete = False
        tqdm.write(f"interrupted after {sum(map(len, done.values()))} of {len(jobs)} images", file=sys.stderr)
    finally:
        bar.close()
    lists = {}
    for name, samples in done.items():
        if samples:
            lists[name] = (out / f"{name}.txt", len(samples))
            write_list(samples, lists[name][0], out)
    return lists, complete


def build_parser():
    parser = cli.parser("python -m model nyud-list", __doc__, EXAMPLES)
    parser.add_argument("--nyud-mat", required=True, metavar="FILE", help="nyu_depth_v2_labeled.mat")
    parser.add_argument("--splits", metavar="FILE", help="splits.mat (default: the official split, carried here)")
    parser.add_argument("--split", default="both", choices=(*SPLIT_KEYS, "both"),
                        help="the images to write (default: %(default)s)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs and the list files")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    names = tuple(SPLIT_KEYS) if args.split == "both" else (args.split,)
    try:
        reader, splits = open_split(args.nyud_mat, args.splits)
    except NyudMatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        with reader:
            lists, complete = export(reader, splits, args.out, names)
    except NyudMatError as e:
        print(f"error: {args.nyud_mat}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: cannot write {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    for name, (path, count) in lists.items():
        print(f"{path}: {count} of the {len(splits[name])} images of the {name} split")
    return 0 if complete else 130
