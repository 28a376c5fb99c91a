"""ImageNet initialisation: torchvision's MobileNet-v2 mapped into the official layout gives the same features."""
import pytest
import torch
import torchvision

from model import build_model
from model.network.encoders.imagenet import WeightsUnavailable, load_imagenet, torchvision_state_dict

# torchvision ``features`` prefix whose output is the official layer3 ... layer8 output
STAGE_ENDS = (4, 7, 11, 14, 17, 18)


def randomised_bn(module, seed=0):
    """Non-trivial BatchNorm statistics, as trained weights would have."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return module


def test_mapped_mobilenet_v2_stage_features_equal_torchvision():
    torch.manual_seed(0)
    tv = randomised_bn(torchvision.models.mobilenet_v2(weights=None)).eval()
    model = build_model("mobilenet_v2", 5, ("segm", "depth")).eval()
    load_imagenet(model.encoder, "mobilenet_v2", tv.state_dict())
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        ours = model.encoder(x)
        theirs = [tv.features[:end](x) for end in STAGE_ENDS]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-4, rtol=0), (a - b).abs().max()


def test_the_extra_t1_block_is_an_exact_identity():
    model = build_model("mobilenet_v2", 5, ("segm",)).eval()
    load_imagenet(model.encoder, "mobilenet_v2", randomised_bn(torchvision.models.mobilenet_v2()).state_dict())
    expand = model.layer2[0].output[0]  # 1x1 conv, BN, ReLU6: absent from torchvision's t=1 block
    with torch.no_grad():
        x = model.layer1(torch.randn(2, 3, 64, 64) * 3)
        assert torch.equal(expand(x), x)


def test_resnet_loads_torchvision_weights_unchanged():
    tv = torchvision.models.resnet50(weights=None)
    model = build_model("resnet50", 3, ("segm",))
    load_imagenet(model.encoder, "resnet50", tv.state_dict())
    assert torch.equal(model.state_dict()["layer3.2.conv2.weight"], tv.state_dict()["layer3.2.conv2.weight"])


def test_offline_download_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_network(*args, **kwargs):
        raise OSError("no network")  # what urllib raises offline (URLError is an OSError)

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", no_network, raising=False)
    with pytest.raises(WeightsUnavailable, match=r"mobilenet_v2-.*\.pth.*--pretrained none"):
        torchvision_state_dict("mobilenet_v2")
