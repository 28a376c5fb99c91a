#!/usr/bin/env python3
"""Real-time joint semantic segmentation and depth (Light-Weight RefineNet, Nekrasov et al., ICRA 2019).

Shows, live and side by side, the input, the colourised segmentation and the metric depth map of a camera,
a video file or a folder of images, with an FPS readout. ``--no-gui`` processes the same sources headless.
"""
import argparse
import copy
import sys

EXAMPLES = """examples:
  python run_demo.py                                     camera 0, else the built-in synthetic scene
  python run_demo.py --video clip.mp4 --loop -w nyud     a video file, NYUDv2 weights (indoor, 40 classes)
  python run_demo.py --camera 1 -w kitti --size 640      KITTI weights, network input scaled to 640 px
  python run_demo.py --images frames/ --record out.mp4   a folder of images, recorded as shown
  python run_demo.py --no-gui --video clip.mp4 -o out.mp4 --save-depth

weights: python -m model.weights list | download NAME | install PATH (offline copy)
in the window: Space pause, . step, 1/2/3 layouts, [ ] opacity, B backbone, M model, D device, H fp16,
  S input size, R record, P snapshot, Ctrl+O open video; F1 lists every key
"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="run_demo.py", description=__doc__, epilog=EXAMPLES,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, max_help_position=32, width=108))
    source = parser.add_argument_group("input (one of; none tries camera 0, then a synthetic scene)")
    source = source.add_mutually_exclusive_group()
    source.add_argument("-c", "--camera", type=int, metavar="INDEX", help="camera index, e.g. 0")
    source.add_argument("-v", "--video", metavar="FILE", help="a video file")
    source.add_argument("-i", "--images", metavar="DIR", help="a folder of images")
    source.add_argument("--synthetic", action="store_true", help="the built-in synthetic scene")
    parser.add_argument("--loop", action="store_true", help="restart a video or image folder at its end")

    model = parser.add_argument_group("model")
    model.add_argument("-w", "--weights", metavar="NAME|PATH",
                       help="catalogue name (nyud, kitti, nyud-kitti, nyud-three) or checkpoint file")
    model.add_argument("--download", action="store_true", help="download --weights first if it is missing")
    model.add_argument("-b", "--backbone", default="mobilenet_v2",
                       choices=("mobilenet_v2", "resnet50", "resnet101", "resnet152"),
                       help="encoder, when --weights is not given (default: %(default)s)")
    model.add_argument("-d", "--device", default="auto", choices=("auto", "cuda", "cpu"),
                       help="inference device (default: %(default)s: CUDA when present)")
    model.add_argument("--half", dest="half", action="store_true", default=None,
                       help="fp16 inference (default on CUDA)")
    model.add_argument("--no-half", dest="half", action="store_false", help="fp32 inference")
    model.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime"),
                       help="CPU inference backend (default: %(default)s: the faster one, measured on the first "
                            "frame)")
    model.add_argument("-s", "--size", type=int, metavar="PIXELS",
                       help="scale the long side to PIXELS before the network (default: the frame's own)")

    view = parser.add_argument_group("display")
    view.add_argument("--overlay", default="side", choices=("side", "blend", "single"),
                      help="side by side, segmentation blended over the input, or one large view "
                           "(default: %(default)s)")
    view.add_argument("--opacity", type=float, default=0.5, help="blend opacity 0..1 (default: %(default)s)")
    view.add_argument("--view", choices=("input", "segmentation", "depth", "normals"),
                      help="what --overlay single shows (default: segmentation)")
    view.add_argument("--snapshots", metavar="DIR",
                      help="folder for snapshots (P) and recordings (R) (default: ./snapshots)")
    view.add_argument("--record", metavar="FILE.mp4", help="record the composed view from the start")

    headless = parser.add_argument_group("headless (--no-gui)")
    headless.add_argument("--no-gui", action="store_true", help="process without a window")
    headless.add_argument("-o", "--output", metavar="OUT.mp4|DIR",
                          help="an MP4 of the side-by-side view, or a folder of per-frame PNGs")
    headless.add_argument("--save-depth", choices=("png", "npz"), nargs="?", const="png",
                          help="also save depth: 16-bit PNG in millimetres (default) or .npz in metres")
    headless.add_argument("--save-labels", action="store_true", help="also save class-index PNGs")
    headless.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (camera, --loop)")
    headless.add_argument("--fps", type=float, metavar="FPS",
                          help="output frame rate for inputs without one (images, camera; default 30)")
    return parser


def given_flags(parser, argv):
    """The destinations of the flags actually typed; the window takes the others from its remembered settings."""
    typed = argparse.ArgumentParser(add_help=False)
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            typed._add_action(copy.copy(action)).default = argparse.SUPPRESS
    return set(vars(typed.parse_known_args(argv)[0]))


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.no_gui:
        from app.headless import run
    else:
        from app.window import run
        args.given = given_flags(parser, sys.argv[1:] if argv is None else argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
