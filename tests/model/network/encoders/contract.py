"""The contract every registered encoder keeps, checked by one shared tester: a thin test module per encoder
subclasses ``EncoderContract`` and sets ``name``."""
import math

import pytest
import torch
import torchvision

from model.network.decoder import DECODERS
from model.network.encoders import ENCODERS, get_encoder, identify
from model.network.lwrefinenet import build_model
from model.presets import TASKS
from model.weights.checkpoint import describe_state_dict, load_model, read_state_dict, save_checkpoint

SIZES = ((64, 64), (97, 131), (33, 47))  # (H, W): even, odd, and just above the coarsest stride


def torchvision_model_of(weights):
    """torchvision's model (random weights) that an ImageNet weights entry belongs to."""
    models = torchvision.models.list_models(module=torchvision.models)
    name = next(m for m in models if torchvision.models.get_model_weights(m) is type(weights))
    return torchvision.models.get_model(name, weights=None)


class EncoderContract:
    name = None  # the registry name of the encoder under test

    @pytest.fixture(scope="class")
    @classmethod
    def spec(cls):
        return get_encoder(cls.name)

    @pytest.fixture(scope="class")
    @classmethod
    def encoder(cls, spec):
        torch.manual_seed(0)
        return spec.build().eval()

    @pytest.fixture(scope="class")
    @classmethod
    def network(cls):
        torch.manual_seed(0)
        return build_model(cls.name, 3, TASKS).eval()

    def test_descriptor_is_complete(self, spec):
        assert ENCODERS[self.name] is spec and spec.name == self.name
        assert spec.label.strip() and spec.segm_head.strip() and spec.decoder in DECODERS
        assert len(spec.channels) == len(spec.strides) > 0
        assert all(c > 0 for c in spec.channels) and list(spec.strides) == sorted(spec.strides)
        assert isinstance(spec.segm_pre_conv, bool)
        assert callable(spec.build) and callable(spec.from_torchvision) and callable(spec.signature)
        torchvision.models.get_weight(spec.imagenet_weights)  # a real entry (only looked up, nothing downloaded)

    def test_builds_with_the_declared_stage_channels(self, spec, encoder):
        assert tuple(encoder.out_channels) == tuple(spec.channels)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
    def test_stage_features_have_the_declared_channels_and_strides(self, spec, encoder, size):
        with torch.no_grad():
            features = encoder(torch.randn(1, 3, *size))
        shapes = [tuple(f.shape) for f in features]
        expected = [(1, c, math.ceil(size[0] / s), math.ceil(size[1] / s)) for c, s in zip(spec.channels, spec.strides)]
        assert shapes == expected

    @pytest.mark.parametrize("size", SIZES[1:], ids=lambda s: f"{s[1]}x{s[0]}")
    def test_network_outputs_are_at_a_quarter_of_the_input(self, network, size):
        with torch.no_grad():
            outputs = network(torch.randn(1, 3, *size))
        quarter = (math.ceil(size[0] / 4), math.ceil(size[1] / 4))
        assert [tuple(o.shape) for o in outputs] == [(1, c, *quarter) for c in (3, 1, 3)]

    def test_the_state_dict_signature_is_its_own(self, network):
        state_dict = network.state_dict()
        assert identify(state_dict) == self.name
        assert [n for n, s in ENCODERS.items() if s.signature(state_dict)] == [self.name]
        assert describe_state_dict(state_dict) == (self.name, 3, TASKS)

    def test_state_dict_round_trip(self, network, tmp_path):
        path = tmp_path / f"{self.name}.ckpt"
        save_checkpoint(network, path)
        state_dict, meta = read_state_dict(path)
        assert meta["encoder"] == self.name
        assert state_dict.keys() == network.state_dict().keys()
        loaded = load_model(path)
        assert loaded.encoder_name == self.name and loaded.tasks == TASKS and loaded.num_classes == 3
        assert all(torch.equal(v, network.state_dict()[k]) for k, v in loaded.state_dict().items())
        x = torch.randn(1, 3, 65, 97)
        with torch.no_grad():
            assert all(torch.equal(a, b) for a, b in zip(loaded(x), network(x)))

    def test_imagenet_weights_map_onto_the_encoder(self, spec):
        tv = torchvision_model_of(torchvision.models.get_weight(spec.imagenet_weights))
        encoder = spec.build()
        mapped = spec.from_torchvision(tv.state_dict())
        assert mapped.keys() == encoder.state_dict().keys()
        encoder.load_state_dict(mapped, strict=True)
