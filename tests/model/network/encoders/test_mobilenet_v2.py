"""The encoder contract for MobileNet-v2."""
from .contract import EncoderContract


class TestMobileNetV2(EncoderContract):
    name = "mobilenet_v2"
