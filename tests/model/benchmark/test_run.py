"""The benchmark: its release baseline is the release network, its report keeps the other sections."""
import numpy as np
import torch
from torch import nn

from model.benchmark.release import ReleasePipeline, release_network
from model.benchmark.report import cpu_description, replace_section
from model.benchmark.run import bench_cuda, end_to_end_table, main, model_for, network_table
from model.export.guard import Guard
from model.processing import normalise


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


def test_the_cuda_rows_measured_on_their_cpu_twin(fitted_ckpt):
    """bench_cuda's paths (fp32, fp16, fp16 with static pipelines) and its network rows, on the CPU: every row
    measured, both tables written."""
    model = model_for(None, str(fitted_ckpt))
    net_rows, rows = bench_cuda(model, (64, 96), 4, torch.device("cpu"), Guard(), lambda text: None)
    assert [r.name.split(",")[0] for r in rows] == ["this project"] * 3
    assert all(len(r.e2e) == 4 for r in rows) and all(len(r.network) == 4 for r in [*rows, *net_rows])
    results = {("mobilenet_v2", (64, 96)): (net_rows, rows)}
    assert "| torch fp32 |" in network_table(results) and end_to_end_table(results).count("| this project") == 3
