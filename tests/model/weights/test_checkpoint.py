"""Checkpoint loading: every accepted form, the project's own format, and one clear line for each bad file."""
import os
import re
import socket

import cv2
import numpy as np
import pytest
import torch
import torchvision

from model import CheckpointError, build_model, get_preset, load_model, save_checkpoint
from model.weights.info import main as info_main
from model.training.train import create_model
from model.training.config import ConfigError
from run_demo import main as demo_main

from tests.conftest import REFERENCE_CKPT


def test_accepts_bare_and_module_prefixed_and_old_state_dicts(tmp_path, reference_state_dict):
    expected = load_model(REFERENCE_CKPT).state_dict()
    forms = {
        "bare": dict(reference_state_dict),
        "prefixed": {f"module.{k}": v for k, v in reference_state_dict.items()},
        "old": {k: v for k, v in reference_state_dict.items() if not k.endswith("num_batches_tracked")},
    }
    for name, sd in forms.items():
        path = tmp_path / f"{name}.ckpt"
        torch.save(sd if name != "old" else {"state_dict": sd}, path)
        model = load_model(path)
        assert model.preset.name == "nyud-three" and not model.training
        for key, value in sd.items():
            assert torch.equal(model.state_dict()[key.removeprefix("module.")], value), (name, key)
        assert model.state_dict().keys() == expected.keys()


def test_resnet_release_file_loads_as_segmentation_only(tmp_path):
    path = tmp_path / "rf_lw101.ckpt"
    torch.save(build_model("resnet101", 40, ("segm",)).state_dict(), path)
    model = load_model(path)
    assert model.encoder_name == "resnet101" and model.tasks == ("segm",) and model.preset.name == "nyud"


def test_project_format_round_trips_meta_and_weights(tmp_path):
    model = build_model("mobilenet_v2", 3, ("segm", "depth"))
    path = tmp_path / "mine.ckpt"
    save_checkpoint(model, path, classes=["a", "b", "c"], trained={"epochs": 2, "list": "train.txt"})
    loaded = load_model(path)
    assert loaded.preset.classes == ("a", "b", "c")
    assert loaded.meta["trained"] == {"epochs": 2, "list": "train.txt"}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert sorted(os.listdir(tmp_path)) == ["mine.ckpt"]  # nothing temporary left behind


def test_named_preset_is_kept_in_meta(tmp_path, kitti_ckpt):
    model = load_model(kitti_ckpt)
    save_checkpoint(model, tmp_path / "k.ckpt")
    assert load_model(tmp_path / "k.ckpt").preset.name == "kitti"


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def bad_files(tmp_path, reference_state_dict):
    files = {}
    files["missing"] = tmp_path / "nope.ckpt"
    (tmp_path / "text.ckpt").write_text("hello, not a checkpoint\n")
    files["not a checkpoint"] = tmp_path / "text.ckpt"
    data = REFERENCE_CKPT.read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 3])
    files["truncated"] = tmp_path / "cut.ckpt"
    torch.save({"state_dict": {"a": torch.zeros(1)}, "payload": Evil()}, tmp_path / "evil.ckpt")
    files["pickle"] = tmp_path / "evil.ckpt"
    torch.save(torchvision.models.mobilenet_v2().state_dict(), tmp_path / "classifier.ckpt")
    files["other architecture"] = tmp_path / "classifier.ckpt"
    torch.save({"state_dict": [1, 2, 3]}, tmp_path / "list.ckpt")
    files["not a state dict"] = tmp_path / "list.ckpt"
    sd = dict(reference_state_dict)
    del sd["crp2.0.3_outvar_dimred.weight"]
    sd["extra.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "keys.ckpt")
    files["keys"] = tmp_path / "keys.ckpt"
    return files


@pytest.mark.parametrize("kind, message", [
    ("missing", "no such file"),
    ("not a checkpoint", "not a PyTorch checkpoint"),
    ("truncated", "truncated or corrupt"),
    ("pickle", "weights-only"),
    ("other architecture", "not a Light-Weight RefineNet checkpoint"),
    ("not a state dict", "not a state dict"),
    ("keys", "missing keys: crp2.0.3_outvar_dimred.weight; unexpected keys: extra.weight"),
])
def test_bad_checkpoints_give_one_line_naming_the_file(tmp_path, reference_state_dict, kind, message, capsys):
    path = bad_files(tmp_path, reference_state_dict)[kind]
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    text = str(err.value)
    assert message in text and text.startswith(str(path)) and "\n" not in text
    assert info_main([str(path)]) == 1
    out = capsys.readouterr()
    assert out.err.strip() == f"error: {text}" and "pwned" not in out.out


def test_a_file_that_cannot_be_read_is_one_line(tmp_path, capsys):
    path = tmp_path / "socket.ckpt"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))  # a file that exists but that open() refuses
        refused(path, capsys, "cannot be read (No such device or address)")


def test_class_count_that_fits_no_asked_preset(kitti_ckpt):
    with pytest.raises(CheckpointError, match="has 6 classes, which do not fit preset 'nyud'"):
        load_model(kitti_ckpt, preset="nyud")


def test_unfitting_class_count_without_preset_gets_numbered_classes(tmp_path):
    path = tmp_path / "19.ckpt"
    torch.save(build_model("mobilenet_v2", 19, ("segm", "depth")).state_dict(), path)
    model = load_model(path)
    assert model.preset.name == "custom" and model.preset.classes[18] == "class 18"
    assert model.preset.colours.shape == (19, 3)


def test_info_describes_a_file(capsys):
    assert info_main([str(REFERENCE_CKPT)]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v2" in out and "nyud-three" in out and "3,077,228" in out and "normals" in out


def with_meta(tmp_path, state_dict, meta):
    path = tmp_path / "meta.ckpt"
    torch.save({"state_dict": state_dict, "meta": meta}, path)
    return path


def refused(path, capsys, message):
    """The one-line CheckpointError of ``load_model``, which ``model.info`` prints as its only line, exit code 1."""
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    text = str(err.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text
    assert info_main([str(path)]) == 1
    out = capsys.readouterr()
    assert out.out == "" and out.err == f"error: {text}\n"
    return text


@pytest.mark.parametrize("meta, message", [
    ("nyud-three", "meta is a str, not a mapping of fields"),
    (["nyud-three", 40], "meta is a list, not a mapping of fields"),
    ({"classes": 40}, "meta field 'classes' is 40, not a list of class names"),
    ({"classes": ["wall", 3]}, "meta field 'classes' is ['wall', 3], not a list of class names"),
    ({"classes": ["wall", "floor"]}, "meta field 'classes' names 2 classes, but the segmentation head has 40 outputs"),
    ({"preset": ["nyud"]}, "meta field 'preset' is ['nyud'], not one of nyud, kitti, nyud-kitti, nyud-three, custom"),
    ({"preset": "nyu"}, "meta field 'preset' is 'nyu', not one of nyud, kitti"),
    ({"preset": "kitti"}, "meta field 'preset' is 'kitti' (6 classes), but the segmentation head has 40 outputs"),
    ({"num_classes": 0}, "meta field 'num_classes' is 0, not a positive whole number"),
    ({"num_classes": -40}, "meta field 'num_classes' is -40, not a positive whole number"),
    ({"num_classes": "40"}, "meta field 'num_classes' is '40', not a positive whole number"),
    ({"num_classes": 41}, "meta field 'num_classes' is 41, but the segmentation head has 40 outputs"),
    ({"tasks": "segm"}, "meta field 'tasks' is 'segm', not a list of task names"),
    ({"tasks": ["segm", "depth"]}, "meta field 'tasks' is ['segm', 'depth'], but the weights have heads for segm, "
                                   "depth, normals"),
    ({"encoder": "resnet50"}, "meta field 'encoder' is 'resnet50', but the weights are a mobilenet_v2 network"),
    ({"trained": {"loss": torch.ones(2)}}, "meta field 'trained' holds a Tensor, not a plain value"),
    ({"trained": {1: "epoch"}}, "meta field 'trained' holds a mapping with keys other than strings"),
    ({7: "seven"}, "meta has a field named by an int, not by a string"),
])
def test_metadata_that_does_not_fit_is_one_line(tmp_path, reference_state_dict, capsys, meta, message):
    refused(with_meta(tmp_path, reference_state_dict, meta), capsys, message)


@pytest.mark.parametrize("meta", [
    None, {}, {"preset": None, "classes": []}, {"preset": "nyud"},
    {"preset": "custom", "classes": [f"thing {i}" for i in range(40)], "tasks": ["normals", "segm", "depth"]},
    {"encoder": "mobilenet_v2", "num_classes": 40, "note": {"by": "me", "runs": [1, 2.5, None, True, ("a", b"b")]}},
])
def test_metadata_that_fits_loads(tmp_path, reference_state_dict, meta):
    model = load_model(with_meta(tmp_path, reference_state_dict, meta))
    assert model.num_classes == 40 and model.meta["num_classes"] == 40 and model.meta["tasks"] == list(model.tasks)
    assert model.meta["preset"] == model.preset.name
    if meta and meta.get("classes"):
        assert model.preset.classes == tuple(meta["classes"])
    if meta and "note" in meta:
        assert model.meta["note"] == meta["note"]


@pytest.fixture
def image_dir(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "frame.png"), np.full((48, 64, 3), 120, np.uint8))
    return folder


def demo_refuses(path, image_dir, capsys, message):
    """``run_demo.py --no-gui`` on the checkpoint: a non-zero exit and one line on stderr."""
    assert demo_main(["--no-gui", "--images", str(image_dir), "-w", str(path), "--size", "64",
                      "--output", str(image_dir.parent / "out")]) != 0
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and err.count("\n") == 1 and message in err
    assert not (image_dir.parent / "out").exists()


def test_a_head_with_no_outputs_is_refused_at_load(tmp_path, reference_state_dict, image_dir, capsys):
    sd = dict(reference_state_dict)
    sd["segm.weight"], sd["segm.bias"] = sd["segm.weight"][:0].clone(), sd["segm.bias"][:0].clone()
    path = tmp_path / "no_classes.ckpt"
    torch.save({"state_dict": sd}, path)
    refused(path, capsys, "its segmentation head has 0 output channels (no classes to predict)")
    demo_refuses(path, image_dir, capsys, "0 output channels")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_weights_are_refused_at_load(tmp_path, reference_state_dict, image_dir, capsys, value):
    sd = dict(reference_state_dict)
    sd["depth.weight"] = sd["depth.weight"].clone()
    sd["depth.weight"][0, 5, 1, 1] = value
    path = tmp_path / "diverged.ckpt"
    torch.save({"state_dict": sd}, path)
    refused(path, capsys, "holds NaN/inf weights (depth.weight): a corrupt or diverged checkpoint")
    demo_refuses(path, image_dir, capsys, "holds NaN/inf weights")


def test_negative_batchnorm_variance_is_refused(tmp_path, reference_state_dict, capsys):
    sd = dict(reference_state_dict)
    key = next(k for k in sd if k.endswith("running_var"))
    sd[key] = -sd[key].abs()
    path = tmp_path / "variance.ckpt"
    torch.save(sd, path)
    refused(path, capsys, f"holds negative batch-norm variances ({key})")


def test_integer_weights_are_refused(tmp_path, reference_state_dict, capsys):
    sd = dict(reference_state_dict)
    sd["segm.bias"] = sd["segm.bias"].to(torch.int32)
    path = tmp_path / "ints.ckpt"
    torch.save(sd, path)
    refused(path, capsys, "wrong number types: segm.bias torch.int32 (expected torch.float32)")


def test_train_init_reads_through_the_same_checks(tmp_path, reference_state_dict):
    config = {"encoder": "mobilenet_v2", "init": None, "pretrained": "none"}
    bad = with_meta(tmp_path, reference_state_dict, {"classes": 40})
    with pytest.raises(ConfigError, match=rf"^--init: {re.escape(str(bad))}: meta field 'classes' is 40"):
        create_model({**config, "init": str(bad)}, get_preset("nyud"), ("segm", "depth"), log=lambda *a: None)
    sd = dict(reference_state_dict)
    sd["segm.bias"] = torch.full_like(sd["segm.bias"], float("nan"))
    torch.save(sd, bad)
    with pytest.raises(ConfigError, match=r"holds NaN/inf weights \(segm.bias\)"):
        create_model({**config, "init": str(bad)}, get_preset("nyud"), ("segm", "depth"), log=lambda *a: None)
    model = create_model({**config, "init": str(REFERENCE_CKPT)}, get_preset("kitti"), ("segm", "depth"),
                         log=lambda *a: None)
    assert model.num_classes == 6
