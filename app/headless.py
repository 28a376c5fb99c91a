"""Headless processing (``run_demo.py --no-gui``): every frame of a source through the network, in order, to an
MP4 of the side-by-side view or a folder of PNGs, with optional depth and class-index maps and point clouds.

Outputs:
  --output OUT.mp4  the composed view at the input's frame rate; --save-depth, --save-labels and --save-ply go
                    to the folders OUT_depth/, OUT_labels/ and OUT_ply/ beside it.
  --output DIR      DIR/NAME.png per frame, DIR/depth/NAME.png|.npz, DIR/labels/NAME.png, DIR/ply/NAME.ply; NAME
                    is the input image's name for image folders and patterns, else the zero-padded frame index.
  no --output       the frames are processed and only the throughput is reported.
The composed view carries a depth colour bar in metres and the legend of the classes in view (--no-annotate:
the panels alone).

The network is prepared on the first frame's size before the progress bar starts (the backend choice, an ONNX
export, int8 calibration: seconds), so that the bar's rate is the steady one. Ctrl-C or SIGTERM stops at the
next frame and finalises what was written (the MP4 stays playable); an unwritable output, a full disk or a
frame the network fails on stops with a one-line message, keeping everything written until then. A kill that
cannot be caught (SIGKILL, a power cut) leaves OUT.part.mp4 playable, holding every frame but the last; the next
run to OUT.mp4 moves it aside to OUT.interrupted-DATE-TIME.mp4. A second run to an output that one is still
writing is refused.
"""
import errno
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from app.panels.compose import side_by_side
from app.recording.output_lock import OutputLock
from app.recording.results_writer import write_cloud, write_depth, write_labels, write_view
from app.recording.video_file import VideoFile
from app.sources import ImageFilesSource, SourceError, source_from_args
from app.stream.network_choice import installed_for
from model.errors import first_line
from model.geometry.intrinsics import IntrinsicsError, choose_intrinsics
from model.inference.engine import FrameError, Predictor, as_rgb_frame
from model.inference.flicker import FlickerMeter
from model.inference.run_settings import SettingsError, from_args
from model.weights.catalogue import WeightsError, resolve, tqdm_progress
from model.weights.checkpoint import CheckpointError, load_model

log = logging.getLogger(__name__)
VIDEO_SUFFIX = ".mp4"
DEFAULT_FPS = 30.0  # output rate for sources without one (images, camera, synthetic) unless --fps


class OutputError(RuntimeError):
    """An output that cannot be written; the message is one line."""


def _os_problem(error, path):
    if error.errno == errno.ENOSPC:
        return OutputError(f"disk full while writing {path}")
    return OutputError(f"cannot write {path}: {error.strerror or error}")


def write_file(path, write, *args):
    """``write(path, *args)``, one of ``app.recording.results_writer``'s; a disk problem becomes an ``OutputError``."""
    try:
        write(path, *args)
    except OSError as e:
        raise _os_problem(e, path) from None


def output_problem(text):
    """Why ``text`` is no --output (one line), or None: it must name an MP4 or a folder (an existing one, a name
    without a suffix, or any name ending in a slash)."""
    path = Path(text)
    video = path.suffix.lower() == VIDEO_SUFFIX
    if path.is_dir() or (video and (path.is_file() or not path.exists())):  # a file: an earlier run's, replaced
        return None
    if not path.exists() and (not path.suffix or text.endswith(("/", os.sep))):
        return None
    return (f"--output {text} is neither an MP4 (OUT.mp4) nor a folder (DIR, or DIR/ for a name with a dot)"
            f"{': it is an existing file' if path.exists() else ''}")


class Camera:
    """The intrinsics of the point clouds for each frame size, from --intrinsics, --calibration, --hfov or the
    preset's camera (``model.geometry.intrinsics.choose_intrinsics``); the first is described through ``say``."""

    def __init__(self, args, preset, say):
        self.options = {"explicit": args.intrinsics, "calibration_file": args.calibration, "hfov": args.hfov,
                        "preset": preset}
        self.say = say
        self.by_size = {}

    def __call__(self, size):
        if size not in self.by_size:
            intrinsics, origin = choose_intrinsics(size, **self.options)
            if not self.by_size:
                self.say(f"point clouds: {intrinsics.describe()} (from the {origin})")
            self.by_size[size] = intrinsics
        return self.by_size[size]


class Outputs:
    """Where each frame's results go, from ``--output``, ``--save-depth``, ``--save-labels`` and ``--save-ply``."""

    def __init__(self, output, save_depth=None, save_labels=False, fps=DEFAULT_FPS, save_ply=None, camera=None,
                 annotate=True):
        self.video = self.lock = self.kept = None
        self.view_dir = self.depth_dir = self.labels_dir = self.ply_dir = None
        self.save_depth = save_depth
        self.ply_every, self.camera = save_ply, camera
        self.annotate = annotate
        self.written = 0
        self.files_in = {}  # folder -> the files written there, for describe
        if output is None:
            if save_depth or save_labels or save_ply:
                raise OutputError("--save-depth, --save-labels and --save-ply need --output (an MP4 or a folder)")
            return
        problem = output_problem(os.fspath(output))
        if problem:
            raise OutputError(problem)
        output = Path(output)
        try:
            if output.suffix.lower() == VIDEO_SUFFIX and not output.is_dir():
                self._make(output.parent)
                self.video = VideoFile(output, fps)  # it locks the output
                self.kept = self.video.kept
                base = output.with_name(output.stem)
                folders = {kind: Path(f"{base}_{kind}") for kind in ("depth", "labels", "ply")}
            else:
                self._make(output.parent)
                self.lock = OutputLock(output).acquire()
                self.view_dir = self._make(output)
                folders = {kind: output / kind for kind in ("depth", "labels", "ply")}
            if save_depth:
                self.depth_dir = self._make(folders["depth"])
            if save_labels:
                self.labels_dir = self._make(folders["labels"])
            if save_ply:
                self.ply_dir = self._make(folders["ply"])
        except OSError as e:  # another run's output, no PyAV (messages of their own), an unwritable folder
            self.close()
            raise (OutputError(str(e)) if e.errno is None else _os_problem(e, output)) from None
        except OutputError:
            self.close()
            raise

    @staticmethod
    def _make(folder):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create the folder {folder}: {e.strerror or e}") from None
        if not os.access(folder, os.W_OK):
            raise OutputError(f"cannot write in {folder}: permission denied")
        return folder

    def write(self, name, result, index):
        """Writes the outputs of ``result``, the ``index``-th frame written (from 0), under ``name``."""
        if self.video is not None:
            try:
                self.video.write(side_by_side(result, annotate=self.annotate))
            except OSError as e:
                raise _os_problem(e, self.video.path) from None
        elif self.view_dir is not None:
            self._save(self.view_dir, f"{name}.png", write_view, side_by_side(result, annotate=self.annotate))
        if self.depth_dir is not None and result.depth is not None:
            self._save(self.depth_dir, f"{name}.{self.save_depth}", write_depth, result.depth, self.save_depth)
        if self.labels_dir is not None:
            self._save(self.labels_dir, f"{name}.png", write_labels, result)
        if self.ply_dir is not None and index % self.ply_every == 0:
            full = result.at_full_size()
            self._save(self.ply_dir, f"{name}.ply", write_cloud, full, self.camera(full.depth.shape))
        self.written += 1

    def _save(self, folder, name, write, *args):
        write_file(folder / name, write, *args)
        self.files_in[folder] = self.files_in.get(folder, 0) + 1

    def close(self):
        """Finalises the video and gives the output back to other runs; safe to call more than once."""
        try:
            if self.video is not None:
                try:
                    self.video.close()
                except OSError as e:
                    raise _os_problem(e, self.video.path) from None
        finally:
            if self.lock is not None:
                self.lock.release()

    def describe(self):
        """What holds written frames, once closed: a video that exists, folders with files in them."""
        places = [p for p in (self.view_dir, self.depth_dir, self.labels_dir, self.ply_dir) if self.files_in.get(p)]
        if self.video is not None and self.video.frames and self.video.path.is_file():
            places.insert(0, self.video.path)
        if places:
            return ", ".join(map(str, places))
        return "nothing" if self.video or self.view_dir else "nothing (no --output)"


def open_model(args):
    """The checkpoint to run: --weights, else the installed catalogue model of --backbone; never an untrained
    network, whose outputs would be written out as if they meant something."""
    weights = args.weights or installed_for(args.backbone)
    if not weights:
        raise WeightsError("no --weights given and no trained weights installed: pass --weights FILE.ckpt, or run "
                           "`python -m model weights download nyud` (offline: `python -m model weights install PATH`)")
    if not args.download:
        return load_model(resolve(weights))
    with tqdm(desc=f"downloading {weights}", unit="B", unit_scale=True, unit_divisor=1024, leave=False) as bar:
        path = resolve(weights, download=True, progress=tqdm_progress(bar))
    return load_model(path)


def say(text):
    print(text, file=sys.stderr, flush=True)


def warm_up(predictor, frame_size):
    """Prepares the network for frames of ``frame_size`` (H, W), saying so on stderr: one line, updated in place
    on a terminal, then what runs."""
    height, width = frame_size
    head = f"warming up at {width}x{height}"
    live = sys.stderr.isatty()
    if not live:
        say(f"{head}: choosing and preparing the backend...")

    def progress(fraction, message):
        if live:
            sys.stderr.write(f"\r\033[K{head}: {message} ({fraction:.0%})")
            sys.stderr.flush()

    start = time.perf_counter()
    predictor.warmup(frame_size, progress)
    if live:
        sys.stderr.write(f"\r\033[K{head}: done in {time.perf_counter() - start:.1f} s\n")
    why = predictor.applied.reason or predictor.applied.note
    say(f"running: {predictor.description}" + (f" ({why})" if why else ""))


def _check_numbers(args):
    """The first bad number among the flags headless reads, as a message; None when all are fine."""
    for flag, value in (("--max-frames", args.max_frames), ("--fps", args.fps), ("--save-ply", args.save_ply)):
        if value is not None and not value > 0:
            return f"{flag} must be positive"
    return None


def run(args):
    """Processes ``args``' source to its outputs; the exit code: 0 done, 1 error, 2 bad flags, 130 stopped by
    Ctrl-C/SIGTERM."""
    try:
        source = source_from_args(args)
    except SourceError as e:
        say(f"error: {e}")
        return 2
    if source is None:
        say("error: --no-gui needs an input: -i SOURCE (or --video FILE, --images DIR, --camera INDEX, --synthetic)")
        return 2
    problem = _check_numbers(args)
    if problem:
        say(f"error: {problem}")
        return 2
    try:
        model = open_model(args)
        if args.save_ply and "depth" not in model.tasks:
            raise SettingsError(f"--save-ply needs depth, and {Path(model.source).name} has no depth head")
        predictor = Predictor(model, from_args(args), stabilise=getattr(args, "stabilise", 0.0))
        source.open()
    except (WeightsError, CheckpointError, SourceError, SettingsError, RuntimeError) as e:
        say(f"error: {first_line(e)}")
        return 1
    except KeyboardInterrupt:
        source.close()
        say("stopped before the first frame")
        return 130
    fps = source.fps or args.fps or DEFAULT_FPS
    camera = Camera(args, model.preset, say) if args.save_ply else None
    try:
        outputs = Outputs(args.output, args.save_depth, args.save_labels, fps, args.save_ply, camera,
                          annotate=not args.no_annotate)
    except OutputError as e:
        source.close()
        say(f"error: {e}")
        return 1
    say(f"input: {source.describe()}")
    if outputs.kept:
        say(f"kept the video of an interrupted run as {outputs.kept}")
    try:
        first = source.read()
        if first is not None:
            prepare(predictor, first, camera)
    except KeyboardInterrupt:
        outputs.close()
        source.close()
        say("stopped before the first frame")
        return 130
    except Exception as e:  # what the warm-up may raise is as open as what the network may: all said in one line
        outputs.close()
        source.close()
        say(f"error: {first_line(e)}")
        return 1
    return process(args, source, predictor, outputs, first)


def prepare(predictor, frame, camera):
    """Warms up on ``frame``'s size and settles the point clouds' intrinsics, before the progress bar."""
    try:
        size = as_rgb_frame(frame).shape[:2]
    except FrameError:
        return  # the loop skips this frame, with a warning
    warm_up(predictor, size)
    if camera is not None:
        camera(size)


def flicker_text(figure, strength):
    """The summary's flicker part, e.g. 'flicker 0.4% labels changed/frame, ... (stabilised 0.8); '."""
    if figure is None:
        return ""
    return f"flicker {figure.describe()} ({f'stabilised {strength:g}' if strength else 'not stabilised'}); "


def process(args, source, predictor, outputs, first):
    """The loop over the frames, ``first`` (already read, None at once at the end) and the rest."""
    by_name = (isinstance(source, ImageFilesSource) and not source.loop
               and len({p.stem for p in source.files}) == len(source.files))  # else a.png, a.jpg would clash
    max_frames = args.max_frames
    total = None if source.loop else source.frame_count
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    frames = unusable = 0
    problem = None
    flicker = FlickerMeter(history=None)  # over the whole run, for the summary
    logging.basicConfig(format="warning: %(message)s")  # the sources' skipped-frame warnings, above the bar
    # Ctrl-C and SIGTERM stop the loop between frames, never inside one: every frame counted is written whole.
    stop = threading.Event()
    previous_int = signal.signal(signal.SIGINT, lambda *_: stop.set())
    previous_term = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    start = time.perf_counter()
    frame = first
    try:
        with logging_redirect_tqdm(), tqdm(total=total, desc=source.name, unit="frame", file=sys.stderr,
                                           dynamic_ncols=True) as bar:
            while frame is not None and (max_frames is None or frames < max_frames) and not stop.is_set():
                try:
                    result = predictor(frame)
                except FrameError as e:
                    unusable += 1
                    log.warning("frame %d: %s; skipped", frames + unusable, e)
                    frame = source.read()
                    continue
                except Exception as e:  # out of memory, a network giving NaN, a runtime's failure: stop cleanly
                    problem = f"frame {frames + unusable + 1}: {first_line(e)}"
                    break
                name = source.current.stem if by_name else f"{frames:06d}"
                outputs.write(name, result, frames)
                flicker.update(result)
                frames += 1
                bar.update()
                bar.set_postfix(network=f"{result.timings['network']:.0f}ms", refresh=False)
                if max_frames is None or frames < max_frames:
                    frame = source.read()
    except (OutputError, SourceError, IntrinsicsError) as e:
        problem = str(e)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the finalising
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            outputs.close()
        except OutputError as e:
            problem = problem or str(e)
        source.close()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
    elapsed = time.perf_counter() - start
    skipped = source.skipped + unusable
    summary = (f"{frames} frames in {elapsed:.1f} s ({frames / elapsed if elapsed > 0 else 0:.1f} FPS, "
               f"{predictor.description}){f'; {skipped} unreadable frames skipped' if skipped else ''}; "
               f"{flicker_text(flicker.figure, predictor.stabilise)}written: {outputs.describe()}")
    if problem is not None:
        say(f"error: {problem}; stopped after {frames} frames, kept what was written ({outputs.describe()})")
        return 1
    if stop.is_set():
        say(f"stopped: {summary}")
        return 130
    print(summary)
    return 0
