"""Training: the loss falls, resume equals an uninterrupted run, 2 gloo processes equal one, checkpoints load."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from model import load_model
from model.network.lwrefinenet import build_model
from model.processing import normalise
from model.training.config import DEFAULTS
from model.training.train import (
    Trainer,
    create_model,
    main,
    param_groups,
    resolve_preset,
    sync_batchnorm,
    train,
)
from model.weights.checkpoint import save_checkpoint
from tests.conftest import REFERENCE_CKPT, ROOT
from tests.model.data.test_datasets import write_pattern_sample

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def pattern_data(tmp_path):
    """Eight 120x160 pattern samples; one without depth, one without segmentation."""
    data = tmp_path / "data"
    for i in range(8):
        write_pattern_sample(data, f"{i:02d}", depth=i != 3, mask=i != 5)
    return data


def tiny_config(data, out, **changes):
    return {**DEFAULTS, "train": str(data), "preset": "nyud", "classes": ["a", "b", "c", "d", "e"],
            "tasks": ["segm", "depth"], "pretrained": "none", "out": str(out), "epochs": 2, "batch_size": 2,
            "crop": 64, "scale": [0.4, 0.6], "workers": 0, "lr_encoder": 1e-3, "lr_decoder": 1e-3,
            "progress": False, **changes}


def state_of(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_loss_falls_over_a_few_dozen_steps():
    torch.manual_seed(0)
    model = build_model("mobilenet_v2", 3, ("segm", "depth"))
    trainer = Trainer(model, {**DEFAULTS, "lr_decoder": 1e-3}, torch.device("cpu"))
    y, x = np.mgrid[:64, :64]
    labels = np.stack([((y // 16) + (x // 16) + k) % 3 for k in range(4)]).astype(np.int64)
    palette = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200]], np.uint8)
    batch = {"image": normalise(palette[labels]), "segm": torch.from_numpy(labels),
             "depth": torch.from_numpy(1.0 + labels[:, None].astype(np.float32)),
             "has_segm": torch.ones(4, dtype=torch.bool), "has_depth": torch.tensor([True, True, False, True])}
    trainer.train_mode()
    losses = [trainer.step(batch)[0] for _ in range(30)]
    assert np.mean(losses[-5:]) < 0.5 * losses[0]


def test_run_writes_loadable_checkpoints_log_and_curves(pattern_data, tmp_path):
    out = tmp_path / "run"
    history = train(tiny_config(pattern_data, out, val=str(pattern_data)))
    assert [row["epoch"] for row in history] == [1, 2]
    assert "val_miou" in history[-1] and "val_rmse" in history[-1]
    model = load_model(out / "best.ckpt")
    assert model.tasks == ("segm", "depth") and model.preset.classes == ("a", "b", "c", "d", "e")
    assert model.meta["epoch"] in (1, 2) and "trained" in model.meta
    assert load_model(out / "last.ckpt").meta["epoch"] == 2
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,") and len(log) == 3
    curves = cv2.imread(str(out / "curves.png"))
    assert curves is not None and curves.std() > 0
    assert json.loads((out / "config.json").read_text())["crop"] == 64


def test_resume_continues_to_the_same_result(pattern_data, tmp_path):
    train(tiny_config(pattern_data, tmp_path / "straight", epochs=2))
    train(tiny_config(pattern_data, tmp_path / "resumed", epochs=1))
    after_one = state_of(tmp_path / "resumed" / "last.ckpt")
    history = train(tiny_config(pattern_data, tmp_path / "resumed", epochs=2), resume=True)
    assert [row["epoch"] for row in history] == [1, 2]
    a, b = state_of(tmp_path / "straight" / "last.ckpt"), state_of(tmp_path / "resumed" / "last.ckpt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6, rtol=0), k
    assert not torch.equal(a["segm.weight"], after_one["segm.weight"])  # the second epoch did train


def test_two_gloo_processes_equal_one_process_on_the_global_batch(pattern_data, tmp_path):
    # BatchNorm on running statistics (freeze_bn): per-process batch statistics would differ otherwise, and
    # PyTorch's SyncBatchNorm needs CUDA. The depth loss (berHu's batch-wide threshold, the valid-pixel count)
    # is reduced over both processes, so the gradients are the global batch's.
    single = tiny_config(pattern_data, tmp_path / "one", epochs=1, batch_size=4, freeze_bn=True, lr_decoder=1e-2)
    train(single)
    config = tmp_path / "two.json"
    config.write_text(json.dumps({**single, "batch_size": 2, "out": str(tmp_path / "two")}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "model", "train", "--config", str(config)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    a, b = state_of(tmp_path / "one" / "last.ckpt"), state_of(tmp_path / "two" / "last.ckpt")
    init = build_model("mobilenet_v2", 5, ("segm", "depth")).state_dict()
    moved = 0
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5, rtol=1e-4), k
        moved += a[k].shape == init[k].shape and not torch.allclose(a[k].float(), init[k].float())
    assert moved > 50  # the comparison is of trained weights, not of two untouched copies


def test_fine_tuning_onto_new_classes_keeps_all_but_the_segmentation_head(tmp_path):
    config = {**DEFAULTS, "classes": ["road", "car", "sky"], "tasks": ["segm", "depth"], "pretrained": "none",
              "init": str(REFERENCE_CKPT)}
    preset, tasks, _ = resolve_preset(config)
    model = create_model(config, preset, tasks, log=lambda *a: None)
    ref = torch.load(REFERENCE_CKPT, weights_only=True)["state_dict"]
    sd = model.state_dict()
    assert sd["segm.weight"].shape[0] == 3 and "normal.weight" not in sd
    for k in ("layer1.0.weight", "layer8.0.output.2.1.running_var", "crp1.0.1_outvar_dimred.weight",
              "pre_segm.weight", "depth.weight", "depth.bias"):
        assert torch.equal(sd[k], ref[k]), k
    save_checkpoint(model, tmp_path / "ft.ckpt")
    loaded = load_model(tmp_path / "ft.ckpt")
    assert loaded.preset.classes == ("road", "car", "sky")


def test_command_line_errors_are_one_line(pattern_data, tmp_path, capsys):
    assert main(["--pretrained", "none", "--out", str(tmp_path)]) == 2  # settings refused up front: 2
    assert capsys.readouterr().err.startswith("error: no training data")
    assert main(["--train", str(tmp_path / "nothing.txt"), "--pretrained", "none", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nothing.txt" in err and err.count("\n") == 1
    assert main(["--train", str(tmp_path), "--sync-bn", "yes", "--device", "cpu"]) == 1
    assert "sync_bn needs CUDA" in capsys.readouterr().err
    assert main(["--train", str(pattern_data), "--out", str(tmp_path / "r"), "--resume", "--pretrained", "none",
                 "--classes", "a", "b"]) == 1
    assert "no finished epoch to resume from" in capsys.readouterr().err


def test_sync_batchnorm_conversion_keeps_parts_and_keys_shared():
    model = build_model("resnet50", 3, ("segm", "depth"))
    keys = list(model.state_dict())
    synced = sync_batchnorm(model)
    assert list(synced.state_dict()) == keys
    assert isinstance(synced.bn1, torch.nn.SyncBatchNorm) and synced.encoder.bn1 is synced.bn1
    assert not any(type(m) is torch.nn.BatchNorm2d for m in synced.modules())
    groups = param_groups(synced, 1e-3, 1e-2)
    assert sum(len(g["params"]) for g in groups) == len(list(synced.parameters()))
    assert any(p is synced.bn1.weight for p in groups[0]["params"])
