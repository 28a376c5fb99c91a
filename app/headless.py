"""Headless processing (``run_demo.py --no-gui``): every frame of a source through the network, in order, to an
MP4 of the side-by-side view or a folder of PNGs, with optional depth and class-index maps.

Outputs:
  ``--output OUT.mp4``  the composed view at the input's frame rate; ``--save-depth``/``--save-labels`` go to the
                        folders ``OUT_depth/`` and ``OUT_labels/`` beside it.
  ``--output DIR``      ``DIR/NAME.png`` per frame, ``DIR/depth/NAME.png|.npz``, ``DIR/labels/NAME.png``; NAME is
                        the input image's name for ``--images``, else the zero-padded frame index.
  no ``--output``       the frames are processed and only the throughput is reported.

Ctrl-C or SIGTERM stops at the next frame and finalises what was written (the MP4 stays playable); an unwritable
output or a full disk stops with a message, keeping everything written until then.
"""
import errno
import io
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from model.checkpoint import CheckpointError, load_model
from model.engine import FrameError, Predictor
from model.files import depth_millimetres, write_atomic, write_png
from model.weights import WeightsError, resolve, tqdm_progress

from .compose import side_by_side
from .networks import installed_for
from .sources import ImageFolderSource, SourceError, source_from_args
from .video import VideoFile

log = logging.getLogger(__name__)
VIDEO_SUFFIX = ".mp4"
DEFAULT_FPS = 30.0  # output rate for sources without one (images, camera, synthetic) unless --fps


class OutputError(RuntimeError):
    """An output that cannot be written; the message is one line."""


def _os_problem(error, path):
    if error.errno == errno.ENOSPC:
        return OutputError(f"disk full while writing {path}")
    return OutputError(f"cannot write {path}: {error.strerror or error}")


def write_file(path, data):
    """Writes an image (as PNG) or bytes atomically; a disk problem becomes an ``OutputError``."""
    try:
        if isinstance(data, np.ndarray):
            write_png(path, data)
        else:
            write_atomic(path, data)
    except OSError as e:
        raise _os_problem(e, path) from None


def npz_bytes(depth):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, depth=depth.astype(np.float32))
    return buffer.getvalue()


class Outputs:
    """Where each frame's results go, from ``--output``, ``--save-depth`` and ``--save-labels``."""

    def __init__(self, output, save_depth=None, save_labels=False, fps=DEFAULT_FPS):
        self.video = None
        self.view_dir = self.depth_dir = self.labels_dir = None
        self.save_depth = save_depth
        self.written = 0
        if output is None:
            if save_depth or save_labels:
                raise OutputError("--save-depth and --save-labels need --output (an MP4 or a folder)")
            return
        output = Path(output)
        if output.suffix.lower() == VIDEO_SUFFIX and not output.is_dir():
            self.video = VideoFile(output, fps)
            base = output.with_name(output.stem)
            folders = {"depth": Path(f"{base}_depth"), "labels": Path(f"{base}_labels")}
            self._make(output.parent)
        else:
            self.view_dir = self._make(output)
            folders = {"depth": output / "depth", "labels": output / "labels"}
        if save_depth:
            self.depth_dir = self._make(folders["depth"])
        if save_labels:
            self.labels_dir = self._make(folders["labels"])

    @staticmethod
    def _make(folder):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create the folder {folder}: {e.strerror or e}") from None
        if not os.access(folder, os.W_OK):
            raise OutputError(f"cannot write in {folder}: permission denied")
        return folder

    def write(self, name, result):
        if self.video is not None:
            try:
                self.video.write(side_by_side(result))
            except OSError as e:
                raise _os_problem(e, self.video.path) from None
        elif self.view_dir is not None:
            write_file(self.view_dir / f"{name}.png", side_by_side(result))
        if self.depth_dir is not None and result.depth is not None:
            if self.save_depth == "npz":
                write_file(self.depth_dir / f"{name}.npz", npz_bytes(result.depth))
            else:
                write_file(self.depth_dir / f"{name}.png", depth_millimetres(result.depth))
        if self.labels_dir is not None:
            labels = result.labels if result.labels.dtype == np.uint8 else result.labels.astype(np.uint16)
            write_file(self.labels_dir / f"{name}.png", labels)
        self.written += 1

    def close(self):
        if self.video is not None:
            try:
                self.video.close()
            except OSError as e:
                raise _os_problem(e, self.video.path) from None

    def describe(self):
        places = [str(p) for p in (self.video and self.video.path, self.view_dir, self.depth_dir, self.labels_dir)
                  if p]
        return ", ".join(places) if places else "nothing (no --output)"


def open_model(args):
    """The checkpoint to run: --weights, else the installed catalogue model of --backbone; never an untrained
    network, whose outputs would be written out as if they meant something."""
    weights = args.weights or installed_for(args.backbone)
    if not weights:
        raise WeightsError("no --weights given and no trained weights installed: pass --weights FILE.ckpt, or run "
                           "`python -m model.weights download nyud` (offline: `python -m model.weights install PATH`)")
    if not args.download:
        return load_model(resolve(weights))
    with tqdm(desc=f"downloading {weights}", unit="B", unit_scale=True, unit_divisor=1024, leave=False) as bar:
        path = resolve(weights, download=True, progress=tqdm_progress(bar))
    return load_model(path)


def run(args):
    """Processes ``args``' source to its outputs; the exit code: 0 done, 1 error, 130 stopped by Ctrl-C/SIGTERM."""
    source = source_from_args(args)
    if source is None:
        print("error: --no-gui needs an input: --video FILE, --images DIR, --camera INDEX or --synthetic",
              file=sys.stderr)
        return 2
    max_frames = getattr(args, "max_frames", None)
    for flag, value in (("--max-frames", max_frames), ("--fps", getattr(args, "fps", None))):
        if value is not None and not value > 0:
            print(f"error: {flag} must be positive", file=sys.stderr)
            return 2
    try:
        model = open_model(args)
        precision = {None: "auto", True: "fp16", False: "fp32"}[args.half]
        predictor = Predictor(model, device=args.device, precision=precision, backend=args.backend, size=args.size)
        source.open()
    except (WeightsError, CheckpointError, SourceError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        source.close()
        print("stopped before the first frame", file=sys.stderr)
        return 130
    fps = source.fps or getattr(args, "fps", None) or DEFAULT_FPS
    try:
        outputs = Outputs(args.output, args.save_depth, args.save_labels, fps)
    except OutputError as e:
        source.close()
        print(f"error: {e}", file=sys.stderr)
        return 1
    by_name = (isinstance(source, ImageFolderSource) and not source.loop
               and len({p.stem for p in source.files}) == len(source.files))  # else a.png, a.jpg would clash
    total = None if source.loop else source.frame_count
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    frames = unusable = 0
    problem = None
    logging.basicConfig(format="warning: %(message)s")  # the sources' skipped-frame warnings, above the bar
    # Ctrl-C and SIGTERM stop the loop between frames, never inside one: every frame counted is written whole.
    stop = threading.Event()
    previous_int = signal.signal(signal.SIGINT, lambda *_: stop.set())
    previous_term = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    start = time.perf_counter()
    try:
        with logging_redirect_tqdm(), tqdm(total=total, desc=source.name, unit="frame", file=sys.stderr,
                                           dynamic_ncols=True) as bar:
            while (max_frames is None or frames < max_frames) and not stop.is_set():
                frame = source.read()
                if frame is None:
                    break
                try:
                    result = predictor(frame)
                except FrameError as e:
                    unusable += 1
                    log.warning("frame %d: %s; skipped", frames + unusable, e)
                    continue
                name = source.current.stem if by_name else f"{frames:06d}"
                outputs.write(name, result)
                frames += 1
                bar.update()
                bar.set_postfix(network=f"{result.timings['network']:.0f}ms", refresh=False)
    except (OutputError, SourceError) as e:
        problem = e
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the finalising
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            outputs.close()
        except OutputError as e:
            problem = problem or e
        source.close()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
    stopped = stop.is_set()
    elapsed = time.perf_counter() - start
    skipped = source.skipped + unusable
    summary = (f"{frames} frames in {elapsed:.1f} s ({frames / elapsed if elapsed > 0 else 0:.1f} FPS, "
               f"{predictor.description}){f'; {skipped} unreadable frames skipped' if skipped else ''}; "
               f"written: {outputs.describe()}")
    if problem is not None:
        print(f"error: {problem}; stopped after {frames} frames, kept what was written ({outputs.describe()})",
              file=sys.stderr)
        return 1
    if stopped:
        print(f"stopped: {summary}", file=sys.stderr)
        return 130
    print(summary)
    return 0
