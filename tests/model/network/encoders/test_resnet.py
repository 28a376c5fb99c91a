"""The encoder contract for the ResNets."""
from .contract import EncoderContract


class TestResNet50(EncoderContract):
    name = "resnet50"


class TestResNet101(EncoderContract):
    name = "resnet101"


class TestResNet152(EncoderContract):
    name = "resnet152"
