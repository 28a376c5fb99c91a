"""Checkpoint loading: every accepted form, the project's own format, and one clear line for each bad file."""
import os

import pytest
import torch
import torchvision

from model import CheckpointError, build_model, load_model, save_checkpoint
from model.info import main as info_main

from .conftest import REFERENCE_CKPT


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
