"""ONNX export: any height and width, the torch outputs reproduced, the command line."""
import numpy as np
import onnx
import pytest
import torch

from model import build_model, load_model
from model.export.onnx import ExportError, export_onnx, main, verify
from model.inference.backends.onnx_runtime import session as onnx_session
from model.processing import normalise
from tests.conftest import REFERENCE_CKPT


@pytest.fixture(scope="module")
def reference_graph():
    model = load_model(REFERENCE_CKPT)
    return model, export_onnx(model)


@pytest.mark.parametrize("h, w", [(480, 640), (61, 97), (32, 200)])
def test_graph_reproduces_torch_at_any_size(h, w, reference_graph, rng):
    model, graph = reference_graph
    x = normalise(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    with torch.no_grad():
        expected = model(x)
    got = onnx_session(graph).run(None, {"image": x.numpy()})
    assert len(got) == len(expected) == 3
    for e, g in zip(expected, got):
        assert g.shape == tuple(e.shape) == (1, e.shape[1], -(-h // 4), -(-w // 4))
        assert np.abs(g - e.numpy()).max() <= 1e-4 * np.abs(e.numpy()).max()


def test_graph_names_its_outputs_by_task_and_keeps_one_max_pool_op(reference_graph):
    _, graph = reference_graph
    proto = onnx.load_from_string(graph)
    assert [o.name for o in proto.graph.output] == ["segm", "depth", "normals"]
    assert [i.name for i in proto.graph.input] == ["image"]
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("MaxPool") == 16 and "Max" not in ops  # 4 CRP blocks x 4 stages, no CPU rewrite


def test_resnet_single_task_exports_and_verifies(rng):
    model = build_model("resnet50", 40, ("segm",)).eval()
    graph = export_onnx(model)
    frame = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    assert verify(model, graph, frames=[frame]) <= 1e-4


def test_verify_catches_a_graph_of_another_network(rng):
    graph = export_onnx(build_model("mobilenet_v2", 6, ("segm", "depth")).eval())
    other = build_model("mobilenet_v2", 6, ("segm", "depth")).eval()  # other random weights
    with pytest.raises(ExportError, match="differs from torch"):
        verify(other, graph, frames=[rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)])


def test_command_line_writes_a_verified_graph(two_head_ckpt, tmp_path, capsys):
    out = tmp_path / "sub" / "net.onnx"
    assert main([str(two_head_ckpt), "--onnx", str(out)]) == 0
    assert "matches torch" in capsys.readouterr().out
    proto = onnx.load(str(out))
    assert [o.name for o in proto.graph.output] == ["segm", "depth"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    assert [p.name for p in out.parent.iterdir()] == ["net.onnx"]  # no temporary file left


def test_command_line_refuses_a_bad_checkpoint_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "net.onnx"
    assert main([str(bad), "--onnx", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
