"""The encoder registry: one descriptor per name, duplicates refused, every encoder under the shared contract."""
from dataclasses import replace

import pytest

from model.network.encoders import DEFAULT_ENCODER, ENCODERS, build_encoder, get_encoder, identify, register

from . import test_mobilenet_v2, test_resnet
from .contract import EncoderContract


def test_a_duplicate_name_is_refused_naming_both():
    original = ENCODERS["resnet50"]
    impostor = replace(original, label="Impostor-50")
    with pytest.raises(ValueError, match=r"'resnet50' is registered already \(ResNet-50\); Impostor-50 needs"):
        register(impostor)
    assert ENCODERS["resnet50"] is original


def test_every_registered_encoder_runs_the_contract():
    tested = {cls.name for module in (test_mobilenet_v2, test_resnet) for cls in vars(module).values()
              if isinstance(cls, type) and issubclass(cls, EncoderContract) and cls.name}
    assert tested == set(ENCODERS)


def test_unknown_names_are_one_line_errors():
    with pytest.raises(ValueError, match=r"^unknown encoder 'vgg16'; known: mobilenet_v2, resnet50"):
        get_encoder("vgg16")
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder(None)
    assert DEFAULT_ENCODER in ENCODERS


def test_a_state_dict_of_another_architecture_is_identified_as_none():
    assert identify({"features.0.0.weight": None, "classifier.1.weight": None}) is None
