"""Device, precision and backend rules: one place, one-line errors, GPUs this build cannot run."""
import argparse
import re

import pytest
import torch

from model import RunSettings
from model.export.guard import Guard
from model.inference.run_settings import (
    BYTES_PER_PIXEL,
    SettingsError,
    add_arguments,
    check_size,
    cuda_problem,
    free_memory,
    from_args,
    kernels_for,
    largest_size,
    pick_device,
)

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


def test_the_input_size_is_bounded_by_the_memory_free():
    memory = BYTES_PER_PIXEL * 1000 ** 2  # holds a 1000 x 1000 input
    assert largest_size(memory) == 1000
    check_size(1000, memory)
    with pytest.raises(SettingsError) as error:
        check_size(1001, memory)
    assert str(error.value) == "input size 1001 is more than this machine can hold: 1000 pixels at most with 1.9 GiB " \
                               "of memory free"
    assert free_memory() > 0


def test_a_size_no_machine_holds_is_one_line_naming_the_limit():
    with pytest.raises(SettingsError) as error:
        RunSettings(size=99999)
    limit = re.fullmatch(r"input size 99999 is more than this machine can hold: (\d+) pixels at most with "
                         r"[\d.]+ GiB of memory free", str(error.value))
    assert limit and 32 < int(limit[1]) < 99999
