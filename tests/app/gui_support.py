"""What the GUI tests share: the demo's flags, sources, results with known contents, feeding and hovering."""
import time

import numpy as np
import torch
from PyQt5.QtCore import QPointF

from app.sources import SyntheticSource, VideoSource
from app.stream.worker import Output
from model.inference.engine import Result
from model.inference.run_settings import Applied
from model.presets import get_preset

SIZE = "64"  # long side the network sees: tiny, so that CPU inference takes milliseconds
FAST = ("--size", SIZE, "--backend", "torch", "--precision", "fp32")
WAIT_MS = 60000  # generous: a shared, loaded CPU can stall a tiny network for seconds


def demo_args(*argv):
    """The flags as ``run_demo.py`` gives them to ``app.gui.run``, with ``given``: the destinations typed."""
    import run_demo

    return run_demo.parse_args(argv)


def small_synthetic():
    return SyntheticSource(width=128, height=96)


def missing_video(tmp_path):
    return VideoSource(tmp_path / "absent.avi")  # fails to open: no frames interfere with a fed result


def wait_for_result(qtbot, window, condition=lambda w: True):
    qtbot.waitUntil(lambda: window.result is not None and condition(window), timeout=WAIT_MS)
    return window.result


def known_result(preset_name="nyud-three", shape=(96, 128), network_shape=None):
    """Left 5/8 of the frame 'chair' at 2.5 m, the rest 'floor' at 6.0 m; maps at ``network_shape`` (default:
    the frame's), as ``resolution="network"`` gives them."""
    preset = get_preset(preset_name)
    h, w = network_shape or shape
    labels = np.full((h, w), preset.classes.index("floor"), np.uint8)
    labels[:, :w * 5 // 8] = preset.classes.index("chair")
    depth = np.where(labels == preset.classes.index("chair"), 2.5, 6.0).astype(np.float32)
    frame = np.zeros((*shape, 3), np.uint8)
    frame[:, :, 1] = np.linspace(0, 255, shape[1], dtype=np.uint8)[None]
    segm = preset.colours[labels]
    depth_rgb = np.dstack([(depth * 30).astype(np.uint8)] * 3)
    normals = np.full((h, w, 3), 128, np.uint8)
    return Result(frame, labels, depth, segm, depth_rgb, normals, preset, network_size=(h, w),
                  applied=Applied("cpu", "fp32", "torch"),
                  timings={"upload": 1.0, "network": 2.0, "postprocess": 1.0, "download": 0.5, "total": 4.5})


def low_resolution_result(shape=(96, 128), network_shape=(48, 64)):
    """A result at the network's size that ``at_full_size`` makes full size exactly, as the engine's does:
    the known result's raw maps resized by nearest neighbour."""
    result = known_result(shape=shape, network_shape=network_shape)
    preset = result.preset

    def finish(raw, size):
        labels, depth = (torch.nn.functional.interpolate(t[None, None].float(), size=size, mode="nearest")[0, 0]
                         for t in raw)
        labels = labels.to(torch.uint8)
        return {"labels": labels, "depth": depth, "segm_rgb": torch.from_numpy(preset.colours)[labels.long()],
                "depth_rgb": torch.stack([(depth * 30).to(torch.uint8)] * 3, -1),
                "normals_rgb": torch.full((*size, 3), 128, dtype=torch.uint8)}

    result.raw = (torch.from_numpy(result.labels), torch.from_numpy(result.depth))
    result.finish = finish
    return result


def feed(window, result, index=0, warmed=False):
    window.show_output(Output(result, index, time.perf_counter(), warmed))


def hover(window, qtbot, row, col):
    """Moves the pointer over frame pixel (row, col) of the first panel, through the scene like a real mouse."""
    qtbot.wait(50)  # the views settle their ranges on the event loop, as on screen
    panel = window.views.panels[window.views.names[0]]
    scene_pos = panel.view.mapViewToScene(QPointF(col + 0.5, row + 0.5))
    window.views.scene().sigMouseMoved.emit(scene_pos)
