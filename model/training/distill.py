"""``python -m model distill``: fill the labels a list lacks with a teacher network's predictions.

For each sample of the list (``rgb<TAB>mask<TAB>depth[<TAB>normals]``), every task the sample has no label for
and the teacher predicts is filled: segmentation with the teacher's hard labels (its argmax; pixels whose softmax
confidence is below ``--threshold`` become 255, ignored in training), depth as a 16-bit PNG in the data's
``depth_png_scale``, normals as an RGB PNG in the encoding ``model.data.read_normals`` reads. Labels that exist
are kept. The new list ``OUT/<list name>`` names the filled files; paths in it are relative to ``OUT`` (or
absolute). A pseudo-label already in ``OUT`` is kept, so an interrupted run continues where it stopped.
"""
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from model import help_text as cli
from model import processing as pp
from model.data.datalist import ListError, read_list, write_list
from model.data.datasets import FIELDS, DataError, read_rgb
from model.errors import first_line
from model.evaluation.evaluate import predict
from model.files import write_png
from model.inference.run_settings import SettingsError, add_arguments, resolve_device
from model.presets import IGNORE_LABEL
from model.weights.catalogue import WeightsError, checkpoint_help, resolve
from model.weights.checkpoint import CheckpointError, load_model


def output_name(sample, root):
    """A file name unique within the list: the image's path under ``root`` with its folders joined by ``__``."""
    rgb = Path(sample.rgb).resolve()
    try:
        relative = rgb.relative_to(Path(root).resolve())
    except ValueError:
        relative = Path(*rgb.parts[1:])
    return "__".join(relative.with_suffix(".png").parts)


def pseudo_labels(logits, size, threshold=None):
    """Hard labels H x W uint8 from logits 1 x C x h x w resized to ``size``; below ``threshold`` softmax
    confidence: 255."""
    if not threshold:
        return pp.labels_from_logits(logits, size)[0].to(torch.uint8).cpu().numpy()
    confidence, labels = pp.resize(logits, size).softmax(1).max(1)
    labels[confidence < threshold] = IGNORE_LABEL
    return labels[0].to(torch.uint8).cpu().numpy()


def depth_png(depth, size, png_scale):
    """Raw depth 1 x 1 x h x w -> H x W 16-bit PNG values of ``abs`` metres (as the release reads depth)."""
    metres = pp.depth_metres(depth, size)[0].cpu().numpy()
    return np.clip(np.round(metres * png_scale), 0, 65535).astype(np.uint16)


def distill(teacher, samples, out, list_name, root, tasks=None, threshold=None, png_scale=None,
            long_side=None, device="cpu", progress=True):
    """Fills the samples' missing labels into ``out`` and writes ``out/list_name``; returns
    ``(samples, written, kept)`` counts of pseudo-label files."""
    out = Path(out)
    device = torch.device(device)
    teacher = teacher.to(device).eval()
    tasks = [t for t in (tasks or teacher.tasks) if t in teacher.tasks]
    png_scale = png_scale or teacher.preset.depth_png_scale
    filled, written, kept = [], 0, 0
    for sample in tqdm(samples, desc="distill", unit="image", disable=not progress):
        missing = [t for t in tasks if not sample.has(t)]
        targets = {t: out / t / output_name(sample, root) for t in missing}
        todo = [t for t, path in targets.items() if not path.exists()]
        kept += len(targets) - len(todo)
        if todo:
            image = read_rgb(sample.rgb)
            size = image.shape[:2]
            outputs = predict(teacher, image, device, long_side)
            for task in todo:
                if task == "segm":
                    label = pseudo_labels(outputs["segm"], size, threshold)
                elif task == "depth":
                    label = depth_png(outputs["depth"], size, png_scale)
                else:
                    label = pp.colour_normals(pp.resize(outputs["normals"], size))[0].cpu().numpy()
                write_png(targets[task], label)
                written += 1
        filled.append(replace(sample, **{FIELDS[t]: path for t, path in targets.items()}))
    write_list(filled, out / list_name, root=out)
    return len(filled), written, kept


EXAMPLES = """
python -m model distill --teacher nyud --list train.txt --out pseudo/
python -m model distill --teacher best.ckpt --list train.txt --out pseudo/ --threshold 0.7
"""


def main(argv=None):
    parser = cli.parser("python -m model distill", __doc__, EXAMPLES)
    parser.add_argument("--teacher", required=True, metavar="NAME|PATH",
                        help=checkpoint_help("the teacher (a catalogue name must be installed)"))
    parser.add_argument("--list", required=True, metavar="FILE", help="the sample list to complete")
    parser.add_argument("--root", metavar="DIR",
                        help="folder the list's paths are relative to (default: the list's folder)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the pseudo-labels and the new list")
    parser.add_argument("--tasks", nargs="+", choices=tuple(FIELDS), help="tasks to fill (default: the teacher's)")
    parser.add_argument("--threshold", type=float, metavar="P",
                        help="segmentation: pixels whose softmax confidence is below P become 255 (ignored) "
                             "(default: none, every pixel keeps the teacher's label)")
    parser.add_argument("--depth-png-scale", type=float, metavar="X",
                        help="PNG value per metre of the written depth (default: the teacher preset's)")
    parser.add_argument("--size", type=int, metavar="LONG_SIDE",
                        help="run the teacher at this long side (default: the image's own size)")
    add_arguments(parser, device_only=True)
    args = parser.parse_args(argv)
    if args.threshold is not None and not 0 < args.threshold < 1:
        parser.error("--threshold must be between 0 and 1")
    if (Path(args.out) / Path(args.list).name).resolve() == Path(args.list).resolve():
        parser.error("--out is the list's own folder: the new list would overwrite it; choose another folder")
    try:
        samples = read_list(args.list, args.root)
        device = resolve_device(args.device)
        teacher = load_model(resolve(args.teacher), device)
        root = Path(args.root) if args.root else Path(args.list).parent
        count, written, kept = distill(teacher, samples, args.out, Path(args.list).name, root, args.tasks,
                                       args.threshold, args.depth_png_scale, args.size, device)
    except (ListError, WeightsError, CheckpointError, DataError, SettingsError, RuntimeError, OSError) as e:
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    print(f"{count} samples: {written} pseudo-labels written, {kept} already there; list: "
          f"{Path(args.out) / Path(args.list).name}")
    return 0
