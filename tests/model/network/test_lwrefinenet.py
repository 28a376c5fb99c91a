"""The network: the official layouts, parameter counts and the release's exact outputs."""
import numpy as np
import pytest
import torch

from model import build_model, load_model
from model.processing import normalise
from tests.conftest import DATA, REFERENCE_CKPT, REFERENCE_OUTPUTS


def reference_keys(name):
    lines = (DATA / name).read_text().splitlines()
    shapes = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            key, shape = line.split(" ", 1)
            shapes[key] = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
    return shapes


def shapes_of(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_mobilenet_three_heads_has_the_official_keys_and_shapes():
    assert shapes_of(build_model("mobilenet_v2", 40, ("segm", "depth", "normals"))) == reference_keys(
        "state_dict_keys.txt")


def test_mobilenet_two_heads_is_the_official_layout_minus_normals():
    expected = {k: v for k, v in reference_keys("state_dict_keys.txt").items() if "normal" not in k}
    assert shapes_of(build_model("mobilenet_v2", 40, ("segm", "depth"))) == expected


def test_resnet50_single_task_has_the_release_keys_and_shapes():
    assert shapes_of(build_model("resnet50", 40, ("segm",))) == reference_keys("lw_resnet50_state_dict_keys.txt")


@pytest.mark.parametrize("encoder, classes, tasks, count", [
    ("mobilenet_v2", 40, ("segm", "depth"), 3_070_057),
    ("mobilenet_v2", 40, ("segm", "depth", "normals"), 3_077_228),
    ("mobilenet_v2", 6, ("segm", "depth"), 2_991_687),
    ("mobilenet_v2", 46, ("segm", "depth"), 3_083_887),
    ("resnet50", 40, ("segm",), 27_401_320),
    ("resnet101", 40, ("segm",), 46_393_448),
    ("resnet152", 40, ("segm",), 62_037_096),
])
def test_parameter_counts(encoder, classes, tasks, count):
    assert sum(p.numel() for p in build_model(encoder, classes, tasks).parameters()) == count


def run(model, frame):
    with torch.no_grad():
        return model(normalise(frame))


def test_reference_checkpoint_reproduces_the_release_outputs(example_frame):
    model = load_model(REFERENCE_CKPT)
    expected = np.load(REFERENCE_OUTPUTS)
    outputs = run(model, example_frame)
    assert len(outputs) == 3
    for name, out in zip(("segm", "depth", "normals"), outputs):
        assert out.shape == expected[name].shape
        assert np.abs(out.numpy() - expected[name]).max() < 1e-4, name


def test_two_head_file_reproduces_segm_and_depth(two_head_ckpt, example_frame):
    model = load_model(two_head_ckpt)
    expected = np.load(REFERENCE_OUTPUTS)
    segm, depth = run(model, example_frame)
    assert model.tasks == ("segm", "depth") and model.preset.name == "nyud"
    assert np.abs(segm.numpy() - expected["segm"]).max() < 1e-4
    assert np.abs(depth.numpy() - expected["depth"]).max() < 1e-4


def test_six_class_slice_is_kitti_and_reproduces_its_channels(kitti_ckpt, example_frame):
    model = load_model(kitti_ckpt)
    expected = np.load(REFERENCE_OUTPUTS)
    segm, depth = run(model, example_frame)
    assert model.preset.name == "kitti" and segm.shape[1] == 6
    assert np.abs(segm.numpy() - expected["segm"][:, :6]).max() < 1e-4
    assert np.abs(depth.numpy() - expected["depth"]).max() < 1e-4


@pytest.mark.parametrize("h, w", [(32, 32), (479, 641), (33, 97), (240, 320)])
def test_any_size_from_32_runs_at_a_quarter_resolution(h, w):
    model = build_model("mobilenet_v2", 6, ("segm", "depth")).eval()
    segm, depth = run(model, np.zeros((h, w, 3), np.uint8))
    assert segm.shape[-2:] == depth.shape[-2:] == (-(-h // 4), -(-w // 4))


def test_resnet_forward_returns_only_logits_at_a_quarter():
    model = build_model("resnet50", 40, ("segm",)).eval()
    outputs = run(model, np.zeros((64, 96, 3), np.uint8))
    assert len(outputs) == 1 and outputs[0].shape == (1, 40, 16, 24)


def test_parts_share_the_network_parameters():
    model = build_model("mobilenet_v2", 40, ("segm", "depth"))
    ids = {id(p) for p in model.parameters()}
    parts = [*model.encoder.parameters(), *model.decoder.parameters(),
             *(p for h in model.heads.values() for p in h.parameters())]
    assert {id(p) for p in parts} == ids and len(parts) == len(ids)
