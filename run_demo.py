#!/usr/bin/env python3
"""Real-time joint semantic segmentation and depth (Light-Weight RefineNet, Nekrasov et al., ICRA 2019).

Shows, live and side by side, the input, the colourised segmentation and the metric depth map of a camera, a
video file, a folder of images, a glob pattern or a stream, with an FPS readout. --no-gui processes the same
sources without a window, to an MP4 or a folder of PNGs.
"""
import argparse
import sys

from app.panels.table import LAYOUTS, VIEW_CHOICES
from app.sources import SourceError, source_from_args, wrong_kind
from model.geometry.intrinsics import DEFAULT_HFOV_DEGREES, Intrinsics, IntrinsicsError
from model.help_text import HelpFormatter, plain
from model.inference.run_settings import SettingsError, add_arguments, from_args
from model.inference.stabiliser import DEFAULT_STRENGTH, strength_of
from model.network.encoders import DEFAULT_ENCODER, ENCODERS
from model.weights.catalogue import checkpoint_help

EXAMPLES = """examples:
  python run_demo.py                                  camera 0, else the built-in synthetic scene
  python run_demo.py -i clip.mp4 --loop -w nyud       a video file, NYUDv2 weights (indoor scenes)
  python run_demo.py -i 1 -w kitti --size 640         camera 1, KITTI weights, network input 640 px
  python run_demo.py -i 'frames/*.png' -w nyud-kitti  image files matching a pattern
  python run_demo.py -i rtsp://192.168.1.20/stream    a network stream (rtsp, http(s), ...)
  python run_demo.py --no-gui -i clip.mp4 -w nyud -o out.mp4 --save-depth
  python run_demo.py --no-gui -i frames/ -w nyud -o results/ --save-ply 10 --hfov 70

weights (-w): nyud, kitti, nyud-kitti, nyud-three (catalogue names) or a checkpoint file; get them
  with python -m model weights download NAME (offline: python -m model weights install PATH)
in the window: Space pause, . step, 1/2/3 layouts, [ ] opacity, B backbone, M model, D device,
  H precision, E backend, S input size, R record, P snapshot, Ctrl+O open video; F1 lists every key
"""
BACKBONES = tuple(ENCODERS)
HEADLESS_ONLY = {"output": "--output", "save_depth": "--save-depth", "save_labels": "--save-labels",
                 "save_ply": "--save-ply", "no_annotate": "--no-annotate", "max_frames": "--max-frames",
                 "fps": "--fps"}
WINDOW_ONLY = {"overlay": "--overlay", "opacity": "--opacity", "view": "--view", "snapshots": "--snapshots",
               "record": "--record"}


def camera_index(text):
    """--camera's type: a whole number; anything else is told which flag it needs."""
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(wrong_kind(text, "camera") or f"{text!r} is not a camera index (0, 1, ...)")


def intrinsics_text(text):
    """--intrinsics' type: four numbers fx,fy,cx,cy with positive focal lengths, kept as text (the frame size
    they are for is known only once a frame arrives)."""
    try:
        Intrinsics.parse(text, (1, 1))
    except IntrinsicsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def field_of_view(text):
    try:
        Intrinsics.from_hfov(text, (1, 1))
    except IntrinsicsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return float(text)


def stabilisation(text):
    try:
        return strength_of(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a strength in 0..1 (1 excluded), got {text!r}") from None


def positive_int(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def build_parser():
    parser = argparse.ArgumentParser(prog="run_demo.py", description=plain(__doc__), epilog=EXAMPLES,
                                     formatter_class=HelpFormatter)
    source = parser.add_argument_group("input (one of; none: camera 0, else the synthetic scene)")
    choice = source.add_mutually_exclusive_group()
    choice.add_argument("-i", "--input", metavar="SOURCE",
                        help="any source: a camera index, a video file, a folder of images, a glob pattern "
                             "('frames/*.png'), a stream URL (rtsp://, http(s)://) or 'synthetic'")
    choice.add_argument("-c", "--camera", type=camera_index, metavar="INDEX", help="a camera index, e.g. 0")
    choice.add_argument("-v", "--video", metavar="FILE", help="a video file")
    choice.add_argument("--images", metavar="DIR", help="a folder of images, in name order")
    choice.add_argument("--synthetic", action="store_true", help="the built-in synthetic scene")
    source.add_argument("--loop", action="store_true", help="restart a video or images at their end")

    model = parser.add_argument_group("model")
    model.add_argument("-w", "--weights", metavar="NAME|PATH", help=checkpoint_help())
    model.add_argument("--download", action="store_true", help="download --weights first if it is missing")
    model.add_argument("-b", "--backbone", default=DEFAULT_ENCODER, choices=BACKBONES, metavar="NAME",
                       help=f"the encoder when --weights is not given: {', '.join(BACKBONES)} "
                            "(default: %(default)s)")
    add_arguments(parser)
    model.add_argument("--stabilise", type=stabilisation, nargs="?", const=DEFAULT_STRENGTH, default=0.0,
                       metavar="STRENGTH", help="temporal stabilisation of the labels and the depth (I in the "
                       f"window); STRENGTH in 0..1, the previous frame's weight on still pixels (default "
                       f"{DEFAULT_STRENGTH})")

    view = parser.add_argument_group("window")
    view.add_argument("--overlay", default="side", choices=LAYOUTS,
                      help="side by side, segmentation blended over the input, or one large view "
                           "(default: %(default)s)")
    view.add_argument("--opacity", type=float, default=0.5, help="blend opacity 0..1 (default: %(default)s)")
    view.add_argument("--view", choices=VIEW_CHOICES,
                      help="what --overlay single shows; 3d: the point cloud (default: segmentation)")
    view.add_argument("--snapshots", metavar="DIR",
                      help="folder for snapshots (P) and recordings (R) (default: ./snapshots)")
    view.add_argument("--record", metavar="FILE.mp4", help="record the composed view from the start")

    camera = parser.add_argument_group(f"intrinsics (3D; default: the weights' preset camera, else a "
                                       f"{DEFAULT_HFOV_DEGREES:g} degree field of view)").add_mutually_exclusive_group()
    camera.add_argument("--intrinsics", type=intrinsics_text, metavar="FX,FY,CX,CY",
                        help="focal lengths and principal point in pixels of the input frames")
    camera.add_argument("--hfov", type=field_of_view, metavar="DEGREES", help="horizontal field of view")
    camera.add_argument("--calibration", metavar="FILE",
                        help="an OpenCV calibration file (YAML/XML/JSON with camera_matrix)")

    headless = parser.add_argument_group("without a window (--no-gui)")
    headless.add_argument("--no-gui", action="store_true", help="process without a window")
    headless.add_argument("-o", "--output", metavar="OUT.mp4|DIR",
                          help="an MP4 of the side-by-side view, or a folder of per-frame PNGs")
    headless.add_argument("--save-depth", choices=("png", "npz"), nargs="?", const="png",
                          help="also save depth: 16-bit PNG in millimetres (png, when given alone) or .npz in "
                               "metres")
    headless.add_argument("--save-labels", action="store_true", help="also save class-index PNGs")
    headless.add_argument("--save-ply", type=positive_int, nargs="?", const=1, metavar="EVERY_N",
                          help="also save coloured, labelled point clouds (binary PLY) of every Nth frame "
                               "(default when given: every frame)")
    headless.add_argument("--no-annotate", action="store_true",
                          help="leave the depth colour bar and the class legend out of the composed view")
    headless.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    headless.add_argument("--fps", type=float, metavar="FPS",
                          help="output frame rate for inputs without one (images, camera; default 30)")
    return parser


def given_flags(parser, argv):
    """The destinations of the flags typed in ``argv``; the window takes the others from its remembered settings.

    ``argv`` is parsed a second time into a namespace where every destination already holds a marker: argparse
    fills in defaults only where a destination is missing, so whatever no longer holds the marker was typed."""
    untyped = object()
    namespace = argparse.Namespace(**dict.fromkeys(vars(parser.parse_args([])), untyped))
    return {dest for dest, value in vars(parser.parse_args(argv, namespace)).items() if value is not untyped}


def check(parser, args):
    """Problems argparse cannot see: the run settings, the source's kind, flags of the other mode, the
    calibration file. Each ends in ``parser.error`` (one line, exit code 2)."""
    try:
        from_args(args)
        source_from_args(args)
    except (SettingsError, SourceError) as e:
        parser.error(str(e))
    other_mode = WINDOW_ONLY if args.no_gui else HEADLESS_ONLY
    typed = sorted(other_mode[dest] for dest in args.given & set(other_mode))
    if typed:
        parser.error(f"{', '.join(typed)} {'apply' if len(typed) > 1 else 'applies'} "
                     f"{'to the window only' if args.no_gui else 'only with --no-gui'}")
    if args.no_gui and args.output:
        from app.headless import output_problem  # loaded by --no-gui anyway

        problem = output_problem(args.output)
        if problem:
            parser.error(problem)
    if args.calibration:
        try:
            Intrinsics.from_calibration_file(args.calibration, (1, 1))  # the file's check; frames come later
        except IntrinsicsError as e:
            parser.error(str(e))


def parse_args(argv=None):
    """``run_demo.py``'s arguments, checked, with ``given``: the set of destinations the user typed."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.given = given_flags(parser, argv)
    check(parser, args)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.no_gui:
        from app.headless import run
    else:
        from app.gui import run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
