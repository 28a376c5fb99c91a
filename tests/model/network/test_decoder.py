"""The Light-Weight RefineNet decoders: the CRP block's pooling and the fusion of encoder stages."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.network.decoder import CRPBlock, MaxPool5, build_decoder
from model.network.encoders import build_encoder


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "bfloat16"])
def test_max_pool_rewrite_is_exact(layout, rng):
    x = torch.from_numpy(rng.standard_normal((2, 8, 13, 17), dtype=np.float32))
    x[0, 0, :3, :3] = -1e30  # -inf padding, not zero padding, must win at the border
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    if layout == "bfloat16":
        x = x.bfloat16()
    assert torch.equal(MaxPool5()(x), F.max_pool2d(x, 5, stride=1, padding=2))


def test_crp_block_adds_each_pooled_stage_to_its_input():
    block = CRPBlock(4, stages=2).eval()
    x = torch.randn(1, 4, 9, 11)
    with torch.no_grad():
        first = getattr(block, "1_outvar_dimred")(F.max_pool2d(x, 5, 1, 2))
        second = getattr(block, "2_outvar_dimred")(F.max_pool2d(first, 5, 1, 2))
        assert torch.allclose(block(x), x + first + second, atol=1e-6)


@pytest.mark.parametrize("encoder", ["mobilenet_v2", "resnet50"])
def test_decoder_fuses_the_stages_into_one_map_at_a_quarter(encoder):
    enc = build_encoder(encoder).eval()
    dec = build_decoder(encoder, enc.out_channels).eval()
    with torch.no_grad():
        out = dec(enc(torch.randn(1, 3, 96, 128)))
    assert out.shape == (1, dec.out_channels, 24, 32)
