"""Which network runs: a checkpoint, a catalogue name, or an untrained network that is the same on every run."""
import pytest
import torch

from app.stream.network_choice import open_network, untrained_warning
from model.export.quantize import weights_hash
from model.weights.catalogue import WeightsError
from tests.conftest import REFERENCE_CKPT

pytestmark = pytest.mark.usefixtures("no_installed_weights")


def test_a_checkpoint_opens_under_its_file_name():
    network = open_network(str(REFERENCE_CKPT))
    assert (network.name, network.weights, network.backbone, network.warning) == (
        "random_nyud_three.ckpt", str(REFERENCE_CKPT), "mobilenet_v2", None)
    assert network.model.preset.name == "nyud-three" and not network.model.training


def test_the_untrained_network_is_the_same_on_every_run_and_leaves_the_callers_randomness_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = open_network(None, "mobilenet_v2")
    assert torch.equal(torch.rand(3), expected_next)  # the caller's random stream is untouched
    second = open_network(None, "mobilenet_v2")
    assert weights_hash(first.model) == weights_hash(second.model)  # so its int8 calibration is cached once
    assert first.name == "untrained" and first.weights is None
    assert first.warning == untrained_warning("mobilenet_v2")
    assert "python -m model weights download nyud" in first.warning and "meaningless" in first.warning


def test_backbones_without_released_weights_say_how_to_get_some():
    assert "train some (python -m model train)" in untrained_warning("resnet101")


def test_missing_catalogue_weights_and_unknown_backbones_are_refused_in_one_line():
    with pytest.raises(WeightsError, match="nyud: weights not installed.*download nyud"):
        open_network("nyud")
    with pytest.raises(ValueError, match="unknown backbone 'vgg'"):
        open_network(None, "vgg")
