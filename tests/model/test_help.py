"""The --help of every command line: plain text at one width, choices and defaults shown, catalogue names
wherever a checkpoint is taken, and examples."""
import pytest

import run_demo
from model import help_text as cli
from model.data import nyud_export
from model.evaluation import evaluate
from model.export import onnx as export
from model.training import distill, train
from model.weights import catalogue as weights
from model.weights import info

NAMES = "nyud, kitti, nyud-kitti, nyud-three"
COMMANDS = {  # the command's main, and what its help must show besides
    "info": (info.main, [NAMES]),
    "export": (export.main, [NAMES, "--int8 [INT8.onnx]", "--calibrate DIR", "(default: 17)"]),
    "weights": (weights.main, ["list", "download", "verify", "install", "(default: $JOINTSEG_WEIGHTS"]),
    "evaluate": (evaluate.main, [NAMES, "--dataset {nyud,kitti}", "--interp {bilinear,bicubic,nearest}",
                                 "(default: bilinear", "--nyud-mat FILE", "--split {test,train}"]),
    "nyud-list": (nyud_export.main, ["--nyud-mat FILE", "--split {train,test,both}", "(default: both)"]),
    "train": (train.main, [NAMES, "--encoder {mobilenet_v2,resnet50,resnet101,resnet152}",
                           "--preset {nyud,kitti,nyud-kitti,nyud-three}", "--pretrained {imagenet,none}",
                           "(default: mobilenet_v2)", "(default: segm=0.5 depth=0.5 normals=0.5)"]),
    "distill": (distill.main, [NAMES, "--tasks {segm,depth,normals}", "(default: auto)"]),
    "run_demo": (run_demo.main, [NAMES, "--backend {auto,torch,onnxruntime,openvino}",
                                 "--precision {auto,fp32,fp16,bf16,int8}", "-i SOURCE, --input SOURCE",
                                 "(default: auto)"]),
}


def help_text(main, capsys, argv=("--help",)):
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_is_plain_text_at_one_width_with_choices_and_examples(name, capsys):
    main, shown = COMMANDS[name]
    text = help_text(main, capsys)
    assert "``" not in text and "DEFAULTS" not in text
    too_wide = [line for line in text.splitlines() if len(line) > cli.WIDTH]
    assert not too_wide
    for snippet in shown:
        assert snippet in text
    examples = text[text.index("\nexamples:\n"):].splitlines()
    assert examples[2].startswith("  python ")


def test_subcommand_help_names_the_catalogue(capsys):
    text = help_text(weights.main, capsys, ["download", "--help"])
    assert f"a catalogue name ({NAMES}) or all" in text


def test_weights_list_has_a_header_row(tmp_path, capsys):
    assert weights.main(["list", "--dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["NAME", "PRESET", "TASKS", "STATUS", "FILE"]
    assert [line.split()[0] for line in lines[2:]] == NAMES.split(", ")


def test_plain_rewraps_prose_and_keeps_commands():
    doc = """``python -m model.x``: a first paragraph that goes on and on well past the width of a line of help text.

    python -m model.x --flag      # an indented command stays as it is, however long its line is in the docstring

- an item
- another item
"""
    text = cli.plain(doc, width=40)
    paragraphs = text.split("\n\n")
    assert paragraphs[0].startswith("python -m model.x: a first") and "``" not in text
    assert all(len(line) <= 40 for line in paragraphs[0].splitlines())
    assert paragraphs[1] == "    python -m model.x --flag      # an indented command stays as it is, however long " \
                            "its line is in the docstring"
    assert paragraphs[2] == "- an item\n- another item"
