"""What every command shares: one --device definition (model.inference.run_settings.add_arguments)."""
import re

import pytest

import run_demo
from model.benchmark import run as benchmark
from model.evaluation import evaluate
from model.inference import run_settings
from model.training import distill

COMMANDS = {"demo": (run_demo.parse_args, "auto"), "evaluate": (evaluate.main, "auto"),
            "distill": (distill.main, "auto"), "benchmark": (benchmark.main, "cpu")}  # the benchmark: CPU section


def device_line(main, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps help at the terminal's width
    with pytest.raises(SystemExit):
        main(["--help"])
    lines = capsys.readouterr().out.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("  -d ") and "--device" in line]
    assert len(starts) == 1
    flag = [lines[starts[0]]]
    for line in lines[starts[0] + 1:]:  # the help, on the lines below when the flag is long
        if not line.strip() or line.lstrip().startswith("-") or not line.startswith("    "):
            break
        flag.append(line)
    return re.sub(r"\s+", " ", " ".join(flag)).strip()


def test_every_command_has_the_same_device_flag(capsys, monkeypatch):
    lines = {name: device_line(main, capsys, monkeypatch) for name, (main, _) in COMMANDS.items()}
    for name, (_, default) in COMMANDS.items():
        assert lines[name].endswith(f"(default: {default})")
    assert len({line.rsplit("(default:", 1)[0] for line in lines.values()}) == 1
    assert lines["demo"].startswith("-d {auto,cpu,cuda,cuda:N}, --device {auto,cpu,cuda,cuda:N} auto: CUDA")


def test_every_command_refuses_an_unknown_device_alike(capsys):
    errors = set()
    for main, _ in COMMANDS.values():
        with pytest.raises(SystemExit) as exit_:
            main(["--device", "auto:1"])
        assert exit_.value.code == 2
        errors.add(capsys.readouterr().err.strip().splitlines()[-1].split(": error: ", 1)[1])
    assert errors == {"argument -d/--device: unknown device 'auto:1'; choose from auto, cpu, cuda (or cuda:N)"}


def test_the_demo_and_the_benchmark_refuse_a_size_beyond_memory_alike(capsys, monkeypatch):
    monkeypatch.setattr(run_settings, "free_memory", lambda: run_settings.BYTES_PER_PIXEL * 500 ** 2)
    message = "input size 640 is more than this machine can hold: 500 pixels at most with 0.5 GiB of memory free"
    for flags in (["--size", "640"], ["--no-gui", "--synthetic", "--size", "640"]):  # the window, headless
        with pytest.raises(SystemExit) as exit_:
            run_demo.parse_args(flags)
        assert exit_.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == f"run_demo.py: error: {message}"
    assert benchmark.main(["--sizes", "480x640"]) == 1
    assert capsys.readouterr().err.strip() == f"error: {message}"
