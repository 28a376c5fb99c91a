"""The table of device, precision and backend rules: what each backend serves, auto, the fallback."""
import pytest

from model.inference import backends, rules
from model.inference.rules import PRECISIONS, RULES, SAFE, asked_precision, auto_device, device_problem, rule


@pytest.mark.parametrize("cls", backends.REGISTRY.values(), ids=backends.names())
def test_every_backend_serves_in_the_table_what_it_declares(cls):
    for device, precisions in cls.precisions.items():
        assert rule(device).served[cls.name] == precisions
        assert set(precisions) <= set(PRECISIONS[1:])
    for device, device_rule in RULES.items():
        assert (cls.name in device_rule.served) == bool(cls.precisions.get(device))


def test_auto_choices():
    assert asked_precision("auto", "cuda") == "fp16"
    assert rule("cuda").auto_candidates == {"torch": ("fp16",)}  # the only backend on CUDA
    assert asked_precision("auto", "cpu") is None  # measured: the fastest that passes the guard
    assert rule("cpu").auto_candidates == {name: cls.auto_precisions["cpu"] for name, cls in backends.REGISTRY.items()
                                           if cls.precisions.get("cpu")}
    for device_rule in RULES.values():
        for name, precisions in device_rule.auto_candidates.items():
            assert precisions and set(precisions) <= set(device_rule.served[name])
    assert asked_precision("bf16", "cpu") == "bf16" == asked_precision("bf16", "cuda")
    assert auto_device(None) == "cuda" and auto_device("no CUDA device") == "cpu"


def test_the_fallback_needs_nothing_but_torch_on_the_cpu():
    for device_rule in RULES.values():
        fallback = device_rule.fallback
        assert fallback.precision in rule(fallback.device).served[fallback.backend]
    assert SAFE == rules.Fallback("cpu", "fp32", "torch") and backends.get(SAFE.backend).problem() is None
    assert SAFE.settings() == {"device": "cpu", "precision": "fp32", "backend": "torch"}


@pytest.mark.parametrize("device, fine", [("auto", True), ("cpu", True), ("cuda", True), ("cuda:1", True),
                                          ("cuda:x", False), ("auto:1", False), ("cpu:0", False), ("tpu", False)])
def test_device_names(device, fine):
    problem = device_problem(device)
    assert (problem is None) is fine
    assert fine or ("unknown device" in problem and "\n" not in problem)
