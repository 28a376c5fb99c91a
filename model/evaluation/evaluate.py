"""Evaluates a model on NYUDv2 or KITTI ground truth, for comparison with the paper's table.

The list holds one sample a line, rgb<TAB>mask<TAB>depth[<TAB>normals] relative to --root ("-" or an empty
field where a sample has no label for a task, which that task then skips). Predictions are resized to each
ground truth's size (--interp), then: segmentation over the set's confusion matrix (label 255 ignored); normals
(three-task models) as angular errors; depth by the standard protocol (Eigen et al. 2014, as monodepth2, BTS and
AdaBins report it): ground truth kept where min-depth < gt < max-depth (and inside --crop), predictions clipped
to [min-depth, max-depth], every error computed per image and averaged over images. RMSE and log RMSE pooled over
all valid pixels of the set are shown as a second line; --no-clip and --rmse pooled give the other protocols.
A line whose files are missing or unreadable is skipped with a warning naming it and counted; Ctrl-C stops early
and still reports and writes what was done (marked "complete": false).
--nyud-mat reads NYUDv2's official nyu_depth_v2_labeled.mat instead of a list, one image at a time: the --split
(test: the paper's 654 images) of --splits splits.mat, labels through the 40-class mapping, depth in metres.
Catalogue weights with published figures get a table of the paper's figures beside this run's.
"""
import csv
import io
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from model import help_text as cli
from model import processing as pp
from model.data.datalist import ListError, read_list
from model.data.datasets import DataError, read_depth, read_mask, read_normals, read_rgb
from model.data.nyud_mat import NyudMatError
from model.errors import first_line
from model.files import write_atomic
from model.inference.engine import network_size
from model.inference.run_settings import SettingsError, add_arguments, resolve_device
from model.presets import get_preset
from model.weights.catalogue import checkpoint_help
from model.weights.checkpoint import CheckpointError, load_model

from .metrics import DEPTH_FLOOR, MIN_DEPTH, RMSE_AGGREGATIONS, DepthMeter, NormalsMeter, SegmentationMeter
from .official import OfficialSplit
from .paper import catalogue_entry, comparison
from .paper import table as paper_table

DATASETS = ("nyud", "kitti")
MAX_DEPTH = {"nyud": 10.0, "kitti": 80.0}  # metres: the standard evaluation caps
# KITTI depth crops as fractions of the image (top, bottom, left, right): Garg et al. 2016, Eigen et al. 2014.
CROPS = {"garg": (0.40810811, 0.99189189, 0.03594771, 0.96405229),
         "eigen": (0.3324324, 0.91351351, 0.0359477, 0.96405229)}
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # unreadable files are reported per line instead
PAPER = {"nyud": "NYUDv2 (40 classes): mIoU 42.0%, RMSE 0.565 m",
         "kitti": "KITTI (6 classes): mIoU 87%, RMSE 3.45 m"}
DEPTH_KEYS = ("rmse", "rmse_log", "abs_rel", "sq_rel", "delta1", "delta2", "delta3")  # per image and for the set
RMSE_KEYS = ("rmse_image_mean", "rmse_log_image_mean", "rmse_pooled", "rmse_log_pooled")  # the set's only
NORMALS_KEYS = ("mean_angle", "median_angle", "within_11.25", "within_22.5", "within_30")
CSV_COLUMNS = ("line", "rgb", "miou", "pixel_acc", *DEPTH_KEYS, *NORMALS_KEYS)


@torch.inference_mode()
def predict(model, image, device, size=None):
    """Raw outputs by task for an H x W x 3 uint8 RGB image, the long side scaled to ``size`` first (None: as is)."""
    x = pp.normalise(torch.from_numpy(image).to(device))
    x = pp.resize(x, network_size(image.shape[:2], size))
    return {task: out.float() for task, out in zip(model.tasks, model(x))}


def class_block(model_preset, dataset_preset):
    """The slice of the model's segmentation outputs that holds the data set's classes: all of them, or the
    NYUD or KITTI block of a joint NYUD+KITTI model; None when the model does not predict those classes."""
    mine, theirs = tuple(model_preset.classes), tuple(dataset_preset.classes)
    for start in range(len(mine) - len(theirs) + 1):
        if mine[start:start + len(theirs)] == theirs:
            return slice(start, start + len(theirs))
    return slice(0, len(mine)) if len(mine) == len(theirs) else None


def crop_mask(shape, crop):
    h, w = shape
    top, bottom, left, right = CROPS[crop]
    mask = np.zeros(shape, bool)
    mask[int(top * h):int(bottom * h), int(left * w):int(right * w)] = True
    return mask


class Evaluation:
    """The meters of one run; ``add(sample)`` evaluates a list sample and returns its per-image row.

    ``min_depth``, ``max_depth`` (None: the data set's ``MAX_DEPTH``), ``clip`` and ``rmse`` are the depth protocol
    (see ``metrics.DepthMeter``).
    """

    def __init__(self, model, dataset, device="cpu", interp="bilinear", max_depth=None, depth_scale=None,
                 crop=None, size=None, min_depth=MIN_DEPTH, clip=True, rmse="image-mean"):
        self.model = model
        self.preset = get_preset(dataset)
        self.block = class_block(model.preset, self.preset)
        if self.block is None:
            raise CheckpointError(f"{model.source}: predicts {model.preset.num_classes} classes "
                                  f"({model.preset.description}), not the {self.preset.num_classes} classes of "
                                  f"{dataset}")
        self.device = device
        self.interp = interp
        self.depth_scale = depth_scale or self.preset.depth_png_scale
        self.crop = crop
        self.size = size
        self.segm = SegmentationMeter(self.preset.num_classes)
        self.depth = DepthMeter(min_depth, MAX_DEPTH[dataset] if max_depth is None else max_depth, clip, rmse)
        self.normals = NormalsMeter()
        self.segm_images = 0

    def add(self, sample):
        tasks = self.model.tasks
        for path in (sample.rgb, sample.mask, sample.depth, sample.normals):
            if path is not None and not path.is_file():
                raise DataError(f"{path}: no such file")
        image = read_rgb(sample.rgb)
        gt = {}
        if sample.mask is not None and "segm" in tasks:
            gt["segm"] = read_mask(sample.mask, self.preset.colours)
        if sample.depth is not None and "depth" in tasks:
            gt["depth"] = read_depth(sample.depth, self.depth_scale)
        if sample.normals is not None and "normals" in tasks:
            gt["normals"] = read_normals(sample.normals)
        return self.add_arrays(image, gt, {"line": sample.line, "rgb": str(sample.rgb)})

    def add_arrays(self, image, gt, row):
        """Scores one H x W x 3 uint8 RGB image against ``gt`` (task -> ground truth as ``add`` reads it, depth
        in metres before --crop) for the tasks the model predicts; returns ``row`` with the image's metrics."""
        gt = {task: target for task, target in gt.items() if task in self.model.tasks}
        if "depth" in gt and self.crop:
            gt["depth"] = np.where(crop_mask(gt["depth"].shape, self.crop), gt["depth"], 0)
        if not gt:
            return row
        out = predict(self.model, image, self.device, self.size)
        if "segm" in gt:
            target = gt["segm"]
            logits = pp.resize(out["segm"][:, self.block], target.shape, self.interp)
            scores = self.segm.update(pp.labels_from_logits(logits, target.shape)[0], target)
            self.segm_images += 1
            row.update(miou=scores["miou"], pixel_acc=scores["pixel_acc"])
        if "depth" in gt:
            target = gt["depth"]
            depth = pp.depth_metres(pp.resize(out["depth"], target.shape, self.interp), target.shape)
            scores, = self.depth.update(depth[0].cpu().numpy(), target)
            row.update({k: v for k, v in (scores or {}).items() if k in DEPTH_KEYS})
        if "normals" in gt:
            target = gt["normals"]
            normals = pp.resize(out["normals"], target.shape[:2], self.interp)[0].permute(1, 2, 0)
            scores = self.normals.update(normals.cpu().numpy(), target)
            row.update({k: v for k, v in (scores or {}).items() if k in NORMALS_KEYS})
        return row

    @property
    def protocol(self):
        """The depth protocol, for the report and the JSON."""
        return {**self.depth.protocol, "crop": self.crop}

    def summary(self):
        """Metric names as keys: segmentation, then depth, then normals (those evaluated)."""
        result = {}
        if self.segm_images:
            segm = self.segm.compute()
            result.update(miou=segm["miou"], pixel_acc=segm["pixel_acc"], mean_acc=segm["mean_acc"],
                          iou=dict(zip(self.preset.classes, segm["iou"])), segm_images=self.segm_images)
        if self.depth.per_image:
            depth = self.depth.compute()
            result.update({k: depth[k] for k in (*DEPTH_KEYS, *RMSE_KEYS)}, depth_images=depth["images"],
                          depth_pixels=depth["pixels"])
        if self.normals.pixels:
            normals = self.normals.compute()
            result.update({k: normals[k] for k in NORMALS_KEYS}, normals_pixels=normals["pixels"])
        return result


def run(evaluation, samples, list_name, source=None):
    """Evaluates every sample (list samples, or the frames of ``source``, an ``official.OfficialSplit``); returns
    (rows, skipped messages, complete). Ctrl-C ends the loop early."""
    rows, skipped = [], []
    bar = tqdm(samples, desc="evaluating", unit="img", file=sys.stderr, dynamic_ncols=True)
    try:
        for sample in bar:
            try:
                rows.append(source.add(evaluation, sample) if source else evaluation.add(sample))
            except (DataError, ValueError, OSError, cv2.error) as e:
                message = f"{list_name}:{sample.line}: {first_line(e, 300)}"
                skipped.append(message)
                tqdm.write(f"warning: {message}; line skipped", file=sys.stderr)
                continue
            bar.set_postfix(_running(evaluation), refresh=False)
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted after {len(rows)} of {len(samples)} samples; reporting those", file=sys.stderr)
        return rows, skipped, False
    bar.close()
    return rows, skipped, True


def _running(evaluation):
    shown = {}
    if evaluation.segm_images:
        shown["mIoU"] = f"{100 * evaluation.segm.compute()['miou']:.1f}%"
    if evaluation.depth.pixels:
        shown["RMSE"] = f"{evaluation.depth.compute()['rmse']:.3f}m"
    return shown


def describe(protocol):
    """The depth protocol in words."""
    low, high = f"{protocol['min_depth']:g}", "inf" if protocol["max_depth"] is None else f"{protocol['max_depth']:g}"
    clipped = (f"predictions clipped to [{low}, {high}] m" if protocol["clip_predictions"]
               else "predictions not clipped")
    rmse = "mean over images" if protocol["rmse"] == "image-mean" else "pooled over pixels"
    crop = f"{protocol['crop']} crop" if protocol["crop"] else "no crop"
    return f"ground truth in ({low}, {high}) m, {clipped}, {crop}; headline RMSE {rmse}"


def report(summary, header, dataset, classes, protocol):
    """The readable table."""
    lines = [header]

    def add(name, value, unit=""):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            lines.append(f"  {name:<24} n/a")
        elif unit == "%":
            lines.append(f"  {name:<24} {100 * value:8.2f} %")
        else:
            lines.append(f"  {name:<24} {value:8.3f} {unit}".rstrip())

    if "miou" in summary:
        lines.append(f"Segmentation ({summary['segm_images']} images, {len(classes)} classes, label 255 ignored)")
        add("mIoU", summary["miou"], "%")
        add("pixel accuracy", summary["pixel_acc"], "%")
        add("mean class accuracy", summary["mean_acc"], "%")
        cells = [f"{name[:16]:<16} " + ("   n/a" if math.isnan(v) else f"{100 * v:5.1f}%")
                 for name, v in summary["iou"].items()]
        lines.append("  per-class IoU (n/a: class in neither ground truth nor prediction):")
        lines += ["    " + "   ".join(cells[i:i + 3]) for i in range(0, len(cells), 3)]
    if "rmse" in summary:
        lines.append(f"Depth ({summary['depth_images']} images, {summary['depth_pixels']:,} valid pixels)")
        lines.append(f"  protocol: {describe(protocol)}")
        ways = [("image mean", "_image_mean"), ("pooled", "_pooled")]
        if protocol["rmse"] == "pooled":
            ways.reverse()
        for name, suffix in ways:
            add(f"RMSE ({name})", summary["rmse" + suffix], "m")
        for name, suffix in ways:
            add(f"log RMSE ({name})", summary["rmse_log" + suffix])
        add("abs rel", summary["abs_rel"])
        add("sq rel", summary["sq_rel"], "m")
        add("delta < 1.25", summary["delta1"], "%")
        add("delta < 1.25^2", summary["delta2"], "%")
        add("delta < 1.25^3", summary["delta3"], "%")
    if "mean_angle" in summary:
        lines.append(f"Surface normals ({summary['normals_pixels']:,} labelled pixels)")
        add("mean angular error", summary["mean_angle"], "deg")
        add("median angular error", summary["median_angle"], "deg")
        for t in ("11.25", "22.5", "30"):
            add(f"within {t} deg", summary[f"within_{t}"], "%")
    if len(lines) == 1:
        lines.append("  nothing evaluated: no sample had ground truth for a task this model predicts")
    lines.append(f"Paper (Nekrasov et al., ICRA 2019, MobileNet-v2), {PAPER[dataset]}")
    return "\n".join(lines)


def _json_value(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def csv_text(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return buffer.getvalue()


EXAMPLES = """
python -m model evaluate -w nyud --dataset nyud --root DATA --list val.txt --json nyud.json
python -m model evaluate -w kitti --dataset kitti --list test.txt --depth-scale 256 --crop garg
python -m model evaluate -w nyud --dataset nyud --nyud-mat nyu_depth_v2_labeled.mat
"""


def build_parser():
    parser = cli.parser("python -m model evaluate", __doc__, EXAMPLES)
    parser.add_argument("-w", "--weights", required=True, metavar="NAME|PATH", help=checkpoint_help())
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="the ground truth's classes and depth format")
    parser.add_argument("--root", metavar="DIR", help="folder the list's paths are relative to (default: the list's)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--list", metavar="FILE", help="rgb<TAB>mask<TAB>depth[<TAB>normals] lines")
    source.add_argument("--nyud-mat", metavar="FILE",
                        help="NYUDv2's official nyu_depth_v2_labeled.mat instead of a list (--dataset nyud)")
    parser.add_argument("--splits", metavar="FILE",
                        help="with --nyud-mat: the official splits.mat (default: the same split, carried here)")
    parser.add_argument("--split", choices=("test", "train"),
                        help="with --nyud-mat: the images to evaluate (default: test, the paper's 654)")
    parser.add_argument("--json", metavar="OUT", help="write the metrics as JSON")
    parser.add_argument("--per-image", metavar="CSV", help="write one row of metrics per image")
    parser.add_argument("--interp", default="bilinear", choices=("bilinear", "bicubic", "nearest"),
                        help="resizing of predictions to the ground truth's size (default: %(default)s; the "
                             "release's notebooks used bicubic)")
    parser.add_argument("--min-depth", type=float, default=MIN_DEPTH, metavar="M",
                        help="depth protocol: ground truth must exceed M metres; predictions below M are raised "
                             "to M (default: %(default)g)")
    parser.add_argument("--max-depth", type=float, metavar="M",
                        help="depth protocol: ground truth must be below M metres; predictions above M are "
                             "lowered to M (default: 10 for nyud, 80 for kitti)")
    parser.add_argument("--no-clip", dest="clip", action="store_false",
                        help=f"keep the raw predictions (raised to {DEPTH_FLOOR:g} m only in the log and ratio terms) "
                             "instead of clipping them to [min-depth, max-depth] (default: clipped)")
    parser.add_argument("--rmse", default="image-mean", choices=RMSE_AGGREGATIONS,
                        help="headline RMSE and log RMSE: the mean of per-image values or pooled over all valid "
                             "pixels; the other is shown too (default: %(default)s)")
    parser.add_argument("--depth-scale", type=float, metavar="S",
                        help="ground-truth PNG value per metre (default: 5000 nyud, 800 kitti as in the "
                             "release's files; 256 for KITTI's official depth PNGs)")
    parser.add_argument("--crop", choices=tuple(CROPS),
                        help="KITTI depth crop, Garg et al. or Eigen et al. (default: none)")
    parser.add_argument("-s", "--size", type=int, metavar="PIXELS",
                        help="scale the long side to PIXELS before the network (default: the image's own)")
    add_arguments(parser, device_only=True)
    return parser


def flag_problems(args):
    """One line per bad flag, checked before anything loads; empty when all are usable."""
    problems = []
    if args.list is not None and not Path(args.list).is_file():
        why = "is a folder, not a list file" if Path(args.list).is_dir() else "no such file"
        problems.append(f"--list {args.list}: {why}")
    if args.root is not None and not Path(args.root).is_dir():
        problems.append(f"--root {args.root}: no such folder")
    for flag, value in (("--json", args.json), ("--per-image", args.per_image)):
        if value and not Path(value).parent.is_dir():
            problems.append(f"{flag} {value}: folder {Path(value).parent} does not exist")
    if args.size is not None and args.size < 32:
        problems.append(f"--size {args.size}: must be at least 32")
    for flag, value in (("--min-depth", args.min_depth), ("--max-depth", args.max_depth),
                        ("--depth-scale", args.depth_scale)):
        if value is not None and not (math.isfinite(value) and value > 0):
            problems.append(f"{flag} {value:g}: must be a positive finite number")
    max_depth = args.max_depth if args.max_depth is not None else MAX_DEPTH[args.dataset]
    if math.isfinite(max_depth) and math.isfinite(args.min_depth) and not max_depth > args.min_depth:
        problems.append(f"--max-depth {max_depth:g} must exceed --min-depth {args.min_depth:g}")
    if args.nyud_mat and (args.dataset != "nyud" or args.root):
        problems.append("--nyud-mat goes with --dataset nyud, without --root")
    if not args.nyud_mat and (args.splits or args.split):
        problems.append("--splits and --split go with --nyud-mat")
    return problems


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    problems = flag_problems(args)
    if problems:
        parser.exit(2, "".join(f"error: {problem}\n" for problem in problems))
    max_depth = args.max_depth if args.max_depth is not None else MAX_DEPTH[args.dataset]
    source = None
    try:
        if args.nyud_mat:
            source = OfficialSplit(args.nyud_mat, args.splits, args.split or "test")
        samples = source.samples if source else read_list(args.list, args.root)
        device = resolve_device(args.device)
        model = load_model(args.weights, device=device)
        evaluation = Evaluation(model, args.dataset, device, args.interp, max_depth, args.depth_scale, args.crop,
                                args.size, min_depth=args.min_depth, clip=args.clip, rmse=args.rmse)
    except (ListError, NyudMatError, CheckpointError, SettingsError, RuntimeError) as e:
        if source:
            source.close()
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if source:
            source.close()
        print("interrupted before the first sample", file=sys.stderr)
        return 130
    list_name = source.name if source else Path(args.list).name
    try:
        rows, skipped, complete = run(evaluation, samples, list_name, source)
    finally:
        if source:
            source.close()
    summary = evaluation.summary()
    settings = {"dataset": args.dataset, "weights": str(args.weights), "checkpoint": model.source,
                **(source.settings if source else {"list": str(args.list)}),
                "interp": args.interp, "depth_scale": evaluation.depth_scale, "size": args.size,
                "protocol": evaluation.protocol}
    counts = {"samples": len(samples), "evaluated": len(rows), "skipped": len(skipped), "complete": complete}
    depth_units = "depth in metres as stored" if source else f"depth PNG / {evaluation.depth_scale:g}"
    header = (f"{model.source} on {args.dataset} ({source.title if source else list_name}): {len(rows)} of "
              f"{len(samples)} samples evaluated"
              f"{f', {len(skipped)} skipped' if skipped else ''}{'' if complete else ' (interrupted)'}; "
              f"{args.interp} resizing, {depth_units}")
    print(report(summary, header, args.dataset, evaluation.preset.classes, evaluation.protocol))
    entry = catalogue_entry(args.weights, model.source)
    if beside := comparison(entry, summary):
        print(paper_table(entry, beside))
        settings["paper"] = {"weights": entry["name"], "figures": beside}
    try:
        if args.json:
            write_atomic(args.json, json.dumps(_json_value({**summary, **settings, **counts,
                                                            "skipped_lines": skipped}), indent=1) + "\n")
        if args.per_image:
            write_atomic(args.per_image, csv_text(rows))
    except OSError as e:
        print(f"error: cannot write the results: {e.strerror or e} ({e.filename or ''})", file=sys.stderr)
        return 1
    if not rows:
        print("error: no sample could be evaluated", file=sys.stderr)
        return 1
    return 0 if complete else 130

