#!/usr/bin/env python3
"""Real-time joint semantic segmentation and depth (Light-Weight RefineNet, Nekrasov et al., ICRA 2019).

Shows, live and side by side, the input, the colourised segmentation and the metric depth map of a camera,
a video file or a folder of images, with an FPS readout. ``--no-gui`` processes the same sources headless.
"""
import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(
        prog="run_demo.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    model.add_argument("-s", "--size", type=int, metavar="PIXELS",
                       help="scale the long side to PIXELS before the network (default: the frame's own)")

    view = parser.add_argument_group("display")
    view.add_argument("--overlay", default="side", choices=("side", "blend", "single"),
                      help="side by side, segmentation blended over the input, or one large view "
                           "(default: %(default)s)")
    view.add_argument("--opacity", type=float, default=0.5, help="blend opacity 0..1 (default: %(default)s)")
    view.add_argument("--record", metavar="FILE.mp4", help="record the composed view from the start")

    headless = parser.add_argument_group("headless (--no-gui)")
    headless.add_argument("--no-gui", action="store_true", help="process without a window")
    headless.add_argument("-o", "--output", metavar="OUT.mp4|DIR",
                          help="an MP4 of the side-by-side view, or a folder of per-frame PNGs")
    headless.add_argument("--save-depth", choices=("png", "npz"), nargs="?", const="png",
                          help="also save depth: 16-bit PNG in millimetres (default) or .npz in metres")
    headless.add_argument("--save-labels", action="store_true", help="also save class-index PNGs")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.no_gui:
        from app.headless import run
    else:
        from app.window import run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
