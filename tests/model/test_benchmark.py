"""The benchmark: its release baseline is the release network, its report keeps the other sections."""
import numpy as np
import torch
from torch import nn

from model.benchmark import main, model_for
from model.postprocess import normalise
from model.release import ReleasePipeline, release_network
from model.report import cpu_description, replace_section


def test_release_baseline_runs_the_same_network_with_its_max_pool_op(rng):
    model = model_for("resnet50")
    release = release_network(model)
    assert sum(isinstance(m, nn.MaxPool2d) for m in release.modules()) >= 4  # one shared op per CRP block
    frame = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    with torch.no_grad():
        for a, b in zip(model(normalise(frame)), release(normalise(frame))):
            assert torch.equal(a, b)
    images = ReleasePipeline(model)(frame)
    assert len(images) == 1 and all(i.shape == (64, 96, 3) and i.dtype == np.uint8 for i in images)


def test_report_sections_are_replaced_and_the_others_kept(tmp_path):
    path = tmp_path / "B.md"
    replace_section(path, "## CPU", "## CPU\n\nfirst\n")
    replace_section(path, "## Memory soak", "## Memory soak\n\nsoak\n")
    replace_section(path, "## CPU", "## CPU\n\nsecond\n")
    assert path.read_text() == "## CPU\n\nsecond\n\n## Memory soak\n\nsoak\n"


def test_the_machine_is_described_with_its_vector_instructions():
    text = cpu_description()
    assert "logical CPUs" in text
    flags = open("/proc/cpuinfo").read()
    if " avx512_vnni" in flags:
        assert "AVX-512 VNNI" in text


def test_a_small_run_writes_both_tables_and_the_ratios(tmp_path, capsys, fitted_ckpt):
    out = tmp_path / "BENCHMARKS.md"
    replace_section(out, "## Notes", "## Notes\n\nkept\n")
    assert main(["--sizes", "64x96", "--checkpoint", str(fitted_ckpt), "--frames", "4", "--out", str(out)]) == 0
    text = out.read_text().replace("**", "")
    for row in ("release pipeline", "ONNX Runtime default session", "this project, auto:", "torch fp32",
                "onnxruntime fp32", "onnxruntime int8"):
        assert f"| mobilenet_v2 | 96x64 | {row}" in text
    assert "faster than the release pipeline" in text and "## CUDA" in text and "## Notes\n\nkept" in text
    assert "| runs |" in text and "logical CPUs" in text
    assert main(["--sizes", "64", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip().endswith("error: sizes are HxW, 32 at least: 64")
