import functools
import http.server
import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from filelock import FileLock

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Two threads at most, fewer where pytest-xdist's workers share the cores.
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))))

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"  # the release's colour maps, key lists and reference vectors
REFERENCE_CKPT = DATA / "random_nyud_three.ckpt"  # random weights in the official layout
REFERENCE_OUTPUTS = DATA / "random_nyud_three_000433.npz"  # the release network's outputs for it
EXAMPLES = ROOT / "model" / "data" / "examples"  # real NYUDv2 and KITTI frames with their ground truth


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def read_video(path):
    """Every frame of a video file (BGR, as OpenCV decodes it) and its frame rate."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


@pytest.fixture(scope="session", autouse=True)
def int8_cache(tmp_path_factory):
    """int8 graphs made by the tests go to a temporary folder, never beside the repository's checkpoints."""
    folder = tmp_path_factory.mktemp("int8-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOINTSEG_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def reference_state_dict():
    return torch.load(REFERENCE_CKPT, map_location="cpu", weights_only=True)["state_dict"]


@pytest.fixture(scope="session")
def example_frame():
    """The NYUD example frame of the reference vectors, 480 x 640 RGB."""
    return read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")


@pytest.fixture
def two_head_ckpt(tmp_path, reference_state_dict):
    """The reference checkpoint without its normals head: an NYUD joint (segm + depth) file."""
    sd = {k: v for k, v in reference_state_dict.items() if "normal" not in k}
    path = tmp_path / "two_heads.ckpt"
    torch.save({"state_dict": sd}, path)
    return path


@pytest.fixture
def kitti_ckpt(tmp_path, reference_state_dict):
    """A 6-class two-head file: the reference's first six segmentation outputs (the KITTI shape)."""
    sd = {k: v for k, v in reference_state_dict.items() if "normal" not in k}
    sd["segm.weight"] = sd["segm.weight"][:6].clone()
    sd["segm.bias"] = sd["segm.bias"][:6].clone()
    path = tmp_path / "kitti.ckpt"
    torch.save({"state_dict": sd}, path)
    return path


@pytest.fixture
def metric_ckpt(tmp_path, reference_state_dict):
    """The reference network with its depth head scaled to give metres (1.7 to 8 m), not near-zero values."""
    sd = dict(reference_state_dict)
    sd["depth.weight"] = sd["depth.weight"] * 3e5
    sd["depth.bias"] = torch.full_like(sd["depth.bias"], 3.0)
    path = tmp_path / "metric.ckpt"
    torch.save({"state_dict": sd}, path)
    return path


@pytest.fixture
def one_thread():
    """torch on one thread for the test: many small operations, or the shared machine's two cores, cost a
    thread pool more than they give it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def fitted_ckpt(request, tmp_path_factory):
    """A MobileNet-v2 NYUD joint network fitted to the example frames (well-conditioned, unlike the random
    reference): made once, by the first of pytest-xdist's workers to need it, and kept in pytest's cache folder
    (without the cache, in the folder the workers' temporary folders share)."""
    from model.training.examples_fit import fitted_checkpoint

    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("fitted") if cache is not None else tmp_path_factory.getbasetemp().parent / "fitted"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / "fitting.lock")):
        return fitted_checkpoint(folder)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_folder(tmp_path):
    """``(folder, base URL)``: a folder served over HTTP on 127.0.0.1 for the test's duration."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
