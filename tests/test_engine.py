"""The predictor's fast paths against the plain fp32 eager network, frame handling, model swap, async use."""
import copy
import gc
import threading
import weakref

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from model import build_model, get_preset, load_model
from model.backends import TapConv, fold_batchnorm, inference_copy
from model.decoder import CRPBlock, MaxPool5
from model.engine import AsyncPredictor, FrameError, Predictor
from model.postprocess import labels_from_logits, normalise

from .conftest import EXAMPLES, REFERENCE_CKPT, read_rgb


def plain_release(model):
    """The network as the release ran it: fp32, NCHW, BatchNorm unfolded, one 5x5 max pool op."""
    plain = copy.deepcopy(model).eval()
    for block in (m for part in (plain, plain.decoder) for m in part.modules() if isinstance(m, CRPBlock)):
        block.pool = nn.MaxPool2d(5, stride=1, padding=2)
    return plain


def plain_outputs(model, frame):
    """Labels and depth (frame size) from the plain network with a full bilinear resize."""
    with torch.no_grad():
        outputs = dict(zip(model.tasks, plain_release(model)(normalise(frame))))
    size = frame.shape[:2]
    labels = F.interpolate(outputs["segm"], size=size, mode="bilinear", align_corners=False).argmax(1)[0]
    depth = F.interpolate(outputs["depth"], size=size, mode="bilinear", align_corners=False)[0, 0].abs()
    return labels.numpy(), depth.numpy()


def random_model(encoder="mobilenet_v2", tasks=("segm", "depth", "normals"), seed=0):
    """Random weights with non-trivial BatchNorm statistics (so that folding them is really tested)."""
    torch.manual_seed(seed)
    model = build_model(encoder, 40, tasks).eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    model.preset = get_preset("nyud-three" if "normals" in tasks else "nyud")
    return model


@pytest.fixture(scope="module")
def reference_model():
    return load_model(REFERENCE_CKPT)


@pytest.fixture(scope="module")
def reference_plain(reference_model, example_frame):
    return plain_outputs(reference_model, example_frame)


@pytest.fixture(scope="module")
def small_frame():
    return np.ascontiguousarray(read_rgb(EXAMPLES / "ExpNYUD_joint" / "000464.png")[100:161, 200:297])  # 61 x 97


FAST_PATHS = [{"backend": "torch"}, {"backend": "onnxruntime"}, {"backend": "torch", "graphs": True}]


@pytest.mark.parametrize("options", FAST_PATHS, ids=["torch", "onnxruntime", "static-buffers"])
def test_fast_paths_match_the_plain_network_on_the_example_frame(options, reference_model, reference_plain,
                                                                example_frame):
    labels, depth = reference_plain
    result = Predictor(reference_model, "cpu", **options)(example_frame)
    assert (result.labels == labels).mean() >= 0.995
    assert np.abs(result.depth - depth).max() <= 1e-3
    assert np.array_equal(result.segm_rgb, reference_model.preset.colours[result.labels])


@pytest.mark.parametrize("options", FAST_PATHS, ids=["torch", "onnxruntime", "static-buffers"])
@pytest.mark.parametrize("encoder, tasks", [("mobilenet_v2", ("segm", "depth", "normals")),
                                            ("resnet50", ("segm",))])
def test_fast_paths_match_the_plain_network_on_random_weights(options, encoder, tasks, small_frame):
    model = random_model(encoder, tasks)
    with torch.no_grad():
        outputs = dict(zip(tasks, plain_release(model)(normalise(small_frame))))
    labels = F.interpolate(outputs["segm"], size=small_frame.shape[:2], mode="bilinear").argmax(1)[0].numpy()
    result = Predictor(model, "cpu", **options)(small_frame)
    assert (result.labels == labels).mean() >= 0.995
    if "depth" in tasks:
        _, depth = plain_outputs(model, small_frame)
        assert np.abs(result.depth - depth).max() <= 1e-3
    assert (result.normals_rgb is not None) == ("normals" in tasks)


@pytest.mark.parametrize("graphs", [False, True])
def test_half_precision_path_on_the_cpu(graphs, small_frame):
    model = random_model(tasks=("segm", "depth"))
    labels, depth = plain_outputs(model, small_frame)
    predictor = Predictor(model, "cpu", half=True, graphs=graphs)
    assert predictor.description.startswith("CPU fp16")
    result = predictor(small_frame)
    assert (result.labels == labels).mean() >= 0.99
    assert np.abs(result.depth - depth).max() <= 0.01 * np.abs(depth).max()
    assert result.depth.dtype == np.float32


def test_auto_backend_is_chosen_by_measurement_with_progress(small_frame):
    predictor = Predictor(random_model(tasks=("segm", "depth")), "cpu")
    steps = []
    predictor.warmup(small_frame.shape[:2], lambda fraction, message: steps.append((fraction, message)))
    assert set(predictor.measured) == {"torch", "onnxruntime"}
    assert predictor.backend == min(predictor.measured, key=predictor.measured.get)
    assert predictor.backend in predictor.description
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and steps[-1][1].startswith("ready")
    assert predictor(small_frame).labels.shape == small_frame.shape[:2]


@pytest.mark.parametrize("options", [{}, {"backend": "torch", "graphs": True}], ids=["auto", "static"])
def test_odd_grey_and_rgba_frames_and_size_changes_mid_stream(options, rng):
    predictor = Predictor(random_model(tasks=("segm", "depth")), "cpu", **options)
    frames = [rng.integers(0, 256, (61, 97, 3), dtype=np.uint8), rng.integers(0, 256, (64, 96), dtype=np.uint8),
              rng.integers(0, 256, (50, 70, 4), dtype=np.uint8), rng.integers(0, 256, (61, 97, 3), dtype=np.uint8)]
    for frame in frames:
        result = predictor(frame)
        assert result.labels.shape == result.depth.shape == frame.shape[:2]
        assert result.segm_rgb.shape == result.depth_rgb.shape == (*frame.shape[:2], 3)
        assert set(result.timings) == {"upload", "network", "postprocess", "download", "total"}
    predictor.size = 48  # the network's long side changes between frames, the output size does not
    result = predictor(frames[0])
    assert result.labels.shape == (61, 97)
    with pytest.raises(FrameError, match="too small"):
        predictor(np.zeros((20, 97, 3), np.uint8))


def test_static_buffers_do_not_leak_into_earlier_results(rng):
    predictor = Predictor(random_model(tasks=("segm", "depth")), "cpu", backend="torch", graphs=True)
    first = predictor(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    kept = first.depth.copy(), first.segm_rgb.copy()
    predictor(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    assert np.array_equal(first.depth, kept[0]) and np.array_equal(first.segm_rgb, kept[1])


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_closing_frees_the_network(backend, small_frame):
    model = random_model(tasks=("segm", "depth"))
    predictor = Predictor(model, "cpu", backend=backend, graphs=backend == "torch")
    predictor(small_frame)
    gone = [weakref.ref(model), weakref.ref(predictor.runner)]
    if backend == "torch":
        gone.append(weakref.ref(predictor.runner.net))
    predictor.close()
    del model
    gc.collect()
    assert all(ref() is None for ref in gone)
    with pytest.raises(RuntimeError, match="closed"):
        predictor(small_frame)


def test_dropping_a_predictor_frees_its_network_at_once(small_frame):
    # What the GUI does on a model swap: no close(), the reference just goes; no cycle may keep the memory.
    predictor = Predictor(random_model(tasks=("segm", "depth")), "cpu", backend="torch", graphs=True)
    predictor(small_frame)
    gone = weakref.ref(predictor.runner.net)
    gc.disable()
    try:
        del predictor
        assert gone() is None
    finally:
        gc.enable()


def test_predictor_does_not_change_the_given_model(small_frame):
    model = random_model(tasks=("segm", "depth"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Predictor(model, "cpu", backend="torch")(small_frame)
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_onnxruntime_backend_is_fp32_cpu_only():
    with pytest.raises(ValueError, match="CPU in fp32"):
        Predictor(random_model(tasks=("segm", "depth")), "cpu", half=True, backend="onnxruntime")
    with pytest.raises(ValueError, match="unknown backend"):
        Predictor(random_model(tasks=("segm", "depth")), "cpu", backend="tensorrt")


def test_async_predictor_warms_up_then_keeps_the_newest(small_frame):
    predictor = Predictor(random_model(tasks=("segm", "depth")), "cpu", backend="torch")
    seen = []
    worker = AsyncPredictor(predictor, warmup_size=small_frame.shape[:2], on_progress=lambda f, m: seen.append(f))
    done = threading.Event()
    for _ in range(3):
        worker.submit(small_frame)
    result = None
    for _ in range(600):
        result = worker.latest()
        if result is not None:
            break
        done.wait(0.05)
    worker.close()
    assert result is not None and result.labels.shape == small_frame.shape[:2]
    assert worker.progress[0] == 1.0 and seen[-1] == 1.0 and worker.error is None
    assert not worker._thread.is_alive()


@pytest.mark.parametrize("encoder, tasks", [("mobilenet_v2", ("segm", "depth", "normals")), ("resnet50", ("segm",))])
def test_batchnorm_folding_keeps_the_outputs(encoder, tasks):
    model = random_model(encoder, tasks)
    x = torch.randn(1, 3, 64, 96)
    folded = inference_copy(model, "cpu", torch.float32)
    assert not any(isinstance(m, nn.BatchNorm2d) for part in (folded, folded.encoder) for m in part.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original keeps its layers
    thin = {t for t, head in folded.heads.items() if isinstance(getattr(head, head.name), TapConv)}
    assert thin == ({"depth", "normals"} & set(tasks))  # the 40-class head stays one conv
    with torch.no_grad():
        for a, b in zip(model(x), folded(x)):
            assert (a - b).abs().max() <= 1e-4 * a.abs().max()
    assert fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())) is not None  # nothing to fold is fine


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "bfloat16"])
def test_max_pool_rewrite_is_exact(layout, rng):
    x = torch.from_numpy(rng.standard_normal((2, 8, 13, 17), dtype=np.float32))
    x[0, 0, :3, :3] = -1e30  # -inf padding, not zero padding, must win at the border
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    if layout == "bfloat16":
        x = x.bfloat16()
    assert torch.equal(MaxPool5()(x), F.max_pool2d(x, 5, stride=1, padding=2))


@pytest.mark.parametrize("size", [(480, 640), (477, 641), (97, 33), (20, 30)])
def test_label_fast_path_equals_the_full_resize(size):
    torch.manual_seed(0)
    smooth = F.interpolate(torch.randn(2, 40, 6, 8), size=(120, 160), mode="bilinear")  # few borders
    noisy = torch.randn(1, 6, 30, 40)  # borders everywhere: the full-resize branch
    for logits in (smooth, smooth.contiguous(memory_format=torch.channels_last), noisy):
        expected = F.interpolate(logits, size=size, mode="bilinear", align_corners=False).argmax(1)
        assert (labels_from_logits(logits, size) == expected).float().mean() >= 0.9999
