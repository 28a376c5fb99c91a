"""Device, precision and backend rules: one place, one-line errors, GPUs this build cannot run."""
import argparse

import pytest
import torch

from model import RunSettings
from model.export.guard import Guard
from model.inference.run_settings import SettingsError, add_arguments, cuda_problem, from_args, kernels_for, pick_device

BUILT = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


@pytest.mark.parametrize("capability, arch_list, runs", [
    ((6, 1), BUILT, False),  # a GTX 10xx
    ((7, 0), BUILT, False),  # a V100
    ((8, 9), BUILT, True),  # an sm_86 cubin runs on 8.9
    ((9, 0), BUILT, True),
    ((12, 0), BUILT, True),
    ((9, 0), ["sm_80", "compute_80"], True),  # PTX is compiled for newer GPUs
    ((7, 5), ["sm_80", "compute_80"], False),
])
def test_kernels_for(capability, arch_list, runs):
    assert kernels_for(*capability, arch_list) is runs


@pytest.fixture
def fake_gpu(monkeypatch):
    """A CUDA device as torch would report it; each test sets its capability and free memory."""
    gpu = {"capability": (8, 6), "free": 8 << 30}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: gpu["capability"])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: BUILT)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (gpu["free"], 16 << 30))
    return gpu


def test_auto_uses_a_gpu_this_build_runs(fake_gpu):
    assert cuda_problem() is None
    assert pick_device("auto") == (torch.device("cuda"), None)


def test_auto_falls_back_to_the_cpu_for_an_unsupported_gpu_with_the_reason(fake_gpu):
    fake_gpu["capability"] = (6, 1)
    device, reason = pick_device("auto")
    assert device == torch.device("cpu") and "sm_61" in reason and "not among" in reason
    with pytest.raises(SettingsError, match="CUDA was asked for but cannot run here: Fake GPU"):
        pick_device("cuda")


def test_auto_falls_back_to_the_cpu_for_a_full_gpu(fake_gpu):
    fake_gpu["free"] = 100 << 20
    device, reason = pick_device("auto")
    assert device.type == "cpu" and "100 MiB free" in reason


@pytest.mark.parametrize("kwargs, message", [
    ({"device": "tpu"}, "unknown device"),
    ({"device": "cuda:x"}, "unknown device"),
    ({"precision": "fp8"}, "unknown precision"),
    ({"backend": "tensorrt"}, "unknown backend"),
    ({"size": 16}, "32 at least"),
    ({"guard": Guard(min_labels=1.5)}, "accuracy guard"),
])
def test_bad_settings_are_one_line_errors(kwargs, message):
    with pytest.raises(SettingsError, match=message) as error:
        RunSettings(**kwargs)
    assert "\n" not in str(error.value)


def test_flags_give_the_same_settings_everywhere():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--device", "cpu", "--precision", "bf16", "--backend", "openvino", "-s", "320",
                              "--guard-labels", "0.9", "--guard-depth", "0.05"])
    assert from_args(args) == RunSettings("cpu", "bf16", "openvino", 320, guard=Guard(0.9, 0.05))
    assert from_args(parser.parse_args([])) == RunSettings()
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "tensorrt"])


def test_the_reason_for_the_cpu_stays_after_the_choice(fake_gpu):
    from model import Predictor
    from model.data.examples import frames
    from tests.model.inference.test_engine import random_model

    fake_gpu["capability"] = (6, 1)
    predictor = Predictor(random_model(tasks=("segm", "depth")), backend="torch", precision="fp32")
    predictor(frames((64, 96))[0])
    assert predictor.applied.device == "cpu" and "sm_61" in predictor.applied.reason
