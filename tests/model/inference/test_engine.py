"""The predictor against the plain fp32 eager network: every path, frame handling, sizes, fallbacks, closing."""
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
from model.inference.engine import FrameError, Predictor, as_rgb_frame, network_size
from model.inference.rules import SAFE
from model.inference.run_settings import SettingsError
from model.inference.selection import NetworkError
from model.network.decoder import CRPBlock
from model.processing import normalise
from tests.conftest import EXAMPLES, REFERENCE_CKPT, read_rgb


def plain_release(model):
    """The network as the release ran it: fp32, NCHW, BatchNorm unfolded, one 5x5 max pool op."""
    plain = copy.deepcopy(model).eval()
    for block in (m for part in (plain, plain.decoder) for m in part.modules() if isinstance(m, CRPBlock)):
        block.pool = nn.MaxPool2d(5, stride=1, padding=2)
    return plain


def plain_outputs(model, frame, size=None):
    """Labels and depth at ``size`` (default the frame's) from the plain network with a full bilinear resize."""
    with torch.no_grad():
        outputs = dict(zip(model.tasks, plain_release(model)(normalise(frame))))
    size = size or frame.shape[:2]
    labels = F.interpolate(outputs["segm"], size=size, mode="bilinear", align_corners=False).argmax(1)[0]
    depth = None
    if "depth" in outputs:
        depth = F.interpolate(outputs["depth"], size=size, mode="bilinear", align_corners=False)[0, 0].abs()
        depth = depth.numpy()
    return labels.numpy(), depth


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
def fitted(fitted_ckpt):
    return load_model(fitted_ckpt)


@pytest.fixture(scope="module")
def small_frame():
    return np.ascontiguousarray(read_rgb(EXAMPLES / "ExpNYUD_joint" / "000464.png")[100:161, 200:297])  # 61 x 97


FAST_PATHS = [{"backend": "torch"}, {"backend": "onnxruntime"}, {"backend": "openvino"},
              {"backend": "torch", "graphs": True}]
FAST_IDS = ["torch", "onnxruntime", "openvino", "static-buffers"]


@pytest.mark.parametrize("options", FAST_PATHS, ids=FAST_IDS)
def test_fp32_paths_match_the_plain_network_on_the_example_frame(options, reference_model, example_frame):
    labels, depth = plain_outputs(reference_model, example_frame)
    result = Predictor(reference_model, device="cpu", precision="fp32", **options)(example_frame)
    assert (result.labels == labels).mean() >= 0.995
    assert np.abs(result.depth - depth).max() <= 1e-3
    assert np.array_equal(result.segm_rgb, reference_model.preset.colours[result.labels])
    assert result.applied.backend == options["backend"] and result.applied.precision == "fp32"


@pytest.mark.parametrize("options", FAST_PATHS, ids=FAST_IDS)
@pytest.mark.parametrize("encoder, tasks", [("mobilenet_v2", ("segm", "depth", "normals")),
                                            ("resnet50", ("segm",))])
def test_fp32_paths_match_the_plain_network_on_random_weights(options, encoder, tasks, small_frame):
    model = random_model(encoder, tasks)
    labels, depth = plain_outputs(model, small_frame)
    result = Predictor(model, device="cpu", precision="fp32", **options)(small_frame)
    assert (result.labels == labels).mean() >= 0.995
    if depth is not None:
        assert np.abs(result.depth - depth).max() <= 1e-3
    assert (result.normals_rgb is not None) == ("normals" in tasks)


@pytest.mark.parametrize("graphs", [False, True], ids=["eager", "static"])
def test_half_precision_path_on_the_cpu_agrees_with_fp32_on_a_fitted_network(graphs, fitted):
    """The CUDA fp16 code path, run on the CPU: it must agree with fp32 as the CUDA tests ask."""
    frame = read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")[::2, ::2]
    labels, depth = plain_outputs(fitted, frame)
    predictor = Predictor(fitted, device="cpu", precision="fp16", backend="torch", graphs=graphs)
    result = predictor(frame)
    assert predictor.description.startswith("CPU fp16, torch")
    assert (result.labels == labels).mean() >= 0.99
    assert np.median(np.abs(result.depth - depth) / depth) <= 0.01
    assert result.depth.dtype == np.float32
    assert result.applied.agreement.labels >= 0.98  # the guard measured it on a calibration frame


def test_fp32_heads_bring_reduced_precision_depth_closer_to_fp32(fitted):
    from model.export.artefacts import Exports
    from model.inference.backends import get

    x = normalise(read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")[::2, ::2])
    exports = Exports(fitted)
    with torch.no_grad():
        truth = get("torch")(exports, "cpu", "fp32")(x)[1]
        runner = get("torch")(exports, "cpu", "fp16")
        with_fp32_heads = runner(x.half())[1].float()
        runner.net.heads["depth"] = runner.net.heads["depth"].head.half()  # the same head, in fp16
        all_fp16 = runner(x.half())[1].float()
    error = [float(((d - truth).abs() / truth.abs()).median()) for d in (with_fp32_heads, all_fp16)]
    assert error[0] < error[1]


def test_network_resolution_results_match_the_full_resolution_ones(fitted):
    frame = read_rgb(EXAMPLES / "ExpNYUD_three" / "000433.png")
    full = Predictor(fitted, device="cpu", precision="fp32", backend="torch", size=160)(frame)
    low = Predictor(fitted, device="cpu", precision="fp32", backend="torch", size=160,
                    resolution="network")(frame)
    assert low.labels.shape == low.network_size == (120, 160) and not low.at_frame_size
    assert full.labels.shape == (480, 640) and full.at_frame_size
    # the same pixel in both, up to interpolation: a low-res pixel is the mean of the 4x4 full-res pixels under it
    block = full.depth.reshape(120, 4, 160, 4).mean(axis=(1, 3))
    assert np.median(np.abs(block - low.depth) / block) < 0.01
    same = (full.labels.reshape(120, 4, 160, 4)[:, 1, :, 1] == low.labels).mean()
    assert same >= 0.97
    restored = low.at_full_size()
    assert np.array_equal(restored.labels, full.labels) and np.allclose(restored.depth, full.depth, atol=1e-5)
    assert np.array_equal(restored.segm_rgb, full.segm_rgb)


@pytest.mark.parametrize("options", [{"backend": "torch"}, {"backend": "torch", "graphs": True}],
                         ids=["eager", "static"])
def test_odd_grey_and_rgba_frames_and_size_changes_mid_stream(options, rng):
    predictor = Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="fp32", **options)
    frames = [rng.integers(0, 256, (61, 97, 3), dtype=np.uint8), rng.integers(0, 256, (64, 96), dtype=np.uint8),
              rng.integers(0, 256, (50, 70, 4), dtype=np.uint8), rng.integers(0, 256, (61, 97, 3), dtype=np.uint8)]
    for frame in frames:
        result = predictor(frame)
        assert result.labels.shape == result.depth.shape == frame.shape[:2]
        assert result.segm_rgb.shape == result.depth_rgb.shape == (*frame.shape[:2], 3)
        assert set(result.timings) == {"upload", "network", "postprocess", "download", "total"}
    predictor.size = 48  # the network's long side changes between frames, the output size does not
    result = predictor(frames[0])
    assert result.labels.shape == (61, 97) and result.network_size == network_size((61, 97), 48)
    with pytest.raises(FrameError, match="too small"):
        predictor(np.zeros((20, 97, 3), np.uint8))


def test_alternating_frame_sizes_prepare_each_size_once(rng):
    predictor = Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="fp32",
                          backend="torch", graphs=True)
    sizes = [(64, 96), (80, 60)]
    for i in range(8):
        frame = rng.integers(0, 256, (*sizes[i % 2], 3), dtype=np.uint8)
        assert predictor(frame).labels.shape == sizes[i % 2]
    assert predictor.pipelines.built == 2
    for shape in [(40, 40), (48, 48), (56, 56), (64, 64)]:  # four more sizes push the oldest out
        predictor(rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    assert len(predictor.pipelines.pipelines) == 4 and predictor.pipelines.built == 6


def test_size_is_read_once_per_frame_while_another_thread_changes_it(small_frame):
    predictor = Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="fp32", backend="torch")
    stop = threading.Event()

    def flip():
        while not stop.is_set():
            predictor.size = 64 if predictor.size == 48 else 48

    thread = threading.Thread(target=flip)
    thread.start()
    try:
        for _ in range(10):
            result = predictor(small_frame)
            assert result.network_size in (network_size(small_frame.shape[:2], 48),
                                           network_size(small_frame.shape[:2], 64))
            assert result.labels.shape == small_frame.shape[:2]
    finally:
        stop.set()
        thread.join()


def test_static_buffers_do_not_leak_into_earlier_results(rng):
    predictor = Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="fp32",
                          backend="torch", graphs=True)
    first = predictor(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    kept = first.depth.copy(), first.segm_rgb.copy()
    predictor(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    assert np.array_equal(first.depth, kept[0]) and np.array_equal(first.segm_rgb, kept[1])


@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "openvino"])
def test_closing_frees_the_network(backend, small_frame):
    model = random_model(tasks=("segm", "depth"))
    predictor = Predictor(model, device="cpu", precision="fp32", backend=backend, graphs=backend == "torch")
    predictor(small_frame)
    gone = [weakref.ref(model), weakref.ref(predictor.runner)]
    predictor.close()
    del model
    gc.collect()
    assert all(ref() is None for ref in gone)
    with pytest.raises(RuntimeError, match="closed"):
        predictor(small_frame)


def test_dropping_a_predictor_frees_its_network_at_once(small_frame):
    # What the GUI does on a model swap: no close(), the reference just goes; no cycle may keep the memory.
    predictor = Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="fp32",
                          backend="torch", graphs=True)
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
    Predictor(model, device="cpu", precision="fp32", backend="torch")(small_frame)
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_settings_that_cannot_run_are_one_line_errors(small_frame):
    model = random_model(tasks=("segm", "depth"))
    with pytest.raises(SettingsError, match="unknown backend"):
        Predictor(model, device="cpu", backend="tensorrt")
    with pytest.raises(SettingsError, match="unknown precision"):
        Predictor(model, device="cpu", precision="fp8")
    with pytest.raises(SettingsError, match="does not run on the CPU"):
        Predictor(model, device="cpu", precision="fp16", backend="onnxruntime")(small_frame)


def test_network_giving_nan_is_one_line_error(small_frame):
    model = random_model(tasks=("segm", "depth"))
    with torch.no_grad():
        model.heads["depth"].depth.bias.fill_(float("nan"))
    with pytest.raises(NetworkError, match="NaN/inf: a corrupt or diverged checkpoint"):
        Predictor(model, device="cpu", precision="fp32", backend="torch")(small_frame)


def test_a_failing_device_gives_way_to_the_cpu(small_frame):
    """CPU twin of a GPU running out of memory on a frame: the frame is redone on the CPU, and the reason said."""
    predictor = Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="fp16", backend="auto")
    predictor(small_frame)

    def out_of_memory(x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    predictor.runner.net.forward = out_of_memory
    result = predictor(small_frame)
    assert result.labels.shape == small_frame.shape[:2]
    assert predictor.applied.precision != "fp16" and "out of memory" in predictor.applied.reason
    assert result.applied.reason == predictor.applied.reason
    fallback = (SAFE.device, SAFE.precision, SAFE.backend)  # the rules' fallback: PyTorch, not a new race
    assert (result.applied.device, result.applied.precision, result.applied.backend) == fallback


def test_close_survives_a_failed_gpu(monkeypatch, small_frame):
    predictor = Predictor(random_model(tasks=("segm", "depth")), device="cpu", precision="fp32", backend="torch")
    predictor(small_frame)
    predictor.device = torch.device("cuda")  # as if on a GPU whose context an illegal access has broken

    def broken(*_):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(torch.cuda, "synchronize", broken)
    monkeypatch.setattr(torch.cuda, "empty_cache", broken)
    runner = weakref.ref(predictor.runner)
    predictor.close()
    gc.collect()
    assert runner() is None


@pytest.mark.parametrize("h, w", [(32, 32), (479, 641), (101, 37)])
def test_predictor_returns_frame_size_images(h, w, rng):
    predictor = Predictor(load_model(REFERENCE_CKPT), device="cpu", precision="fp32", backend="torch")
    result = predictor(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    for image in (result.segm_rgb, result.depth_rgb, result.normals_rgb):
        assert image.shape == (h, w, 3) and image.dtype == np.uint8
    assert result.labels.shape == result.depth.shape == (h, w)
    assert result.depth.dtype == np.float32 and (result.depth >= 0).all()


def test_predictor_labels_and_depth_follow_the_release(example_frame):
    model = load_model(REFERENCE_CKPT)
    with torch.no_grad():
        segm, depth, _ = model(normalise(example_frame))
    result = Predictor(model, device="cpu", precision="fp32")(example_frame)
    up = torch.nn.functional.interpolate(segm, size=(480, 640), mode="bilinear", align_corners=False)
    assert (result.labels == up.argmax(1)[0].numpy()).mean() > 0.999
    d = torch.nn.functional.interpolate(depth, size=(480, 640), mode="bilinear", align_corners=False)
    assert np.abs(result.depth - d.abs()[0, 0].numpy()).max() < 1e-4
    assert np.array_equal(result.segm_rgb, model.preset.colours[result.labels])


def test_frames_are_converted_or_refused(rng):
    grey = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    assert as_rgb_frame(grey).shape == (40, 50, 3)
    rgba = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    assert np.array_equal(as_rgb_frame(rgba), rgba[:, :, :3])
    with pytest.raises(FrameError, match="too small"):
        as_rgb_frame(np.zeros((20, 50, 3), np.uint8))
    with pytest.raises(FrameError, match="uint8"):
        as_rgb_frame(np.zeros((40, 50, 3), np.float32))
    with pytest.raises(FrameError, match="shape"):
        as_rgb_frame(np.zeros((40, 50, 2), np.uint8))


def test_size_policy_scales_the_long_side_keeping_aspect():
    assert network_size((480, 640), None) == (480, 640)
    assert network_size((480, 640), 320) == (240, 320)
    assert network_size((1280, 720), 640) == (640, 360)


@pytest.mark.parametrize("encoder, tasks", [("mobilenet_v2", ("segm", "depth", "normals")), ("resnet50", ("segm",))])
def test_batchnorm_folding_keeps_the_outputs(encoder, tasks):
    from model.inference.backends.pytorch import TapConv, fold_batchnorm, inference_copy

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
    on_cuda_layout = inference_copy(model, "cpu", torch.float32, split_heads=False)
    assert not any(isinstance(m, TapConv) for m in on_cuda_layout.modules())  # CUDA keeps the heads plain
