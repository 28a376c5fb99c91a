"""``python -m model COMMAND``: every command is listed and runs, an unknown one is refused in one line, and the
earlier names (``python -m model.train`` and the others) run the same commands."""
import importlib
import runpy
import sys

import pytest

from model import __main__ as commands

EARLIER_NAMES = {"model.benchmark": "benchmark", "model.export": "export", "model.weights": "weights",
                 "model.train": "train", "model.distill": "distill", "model.evaluate": "evaluate",
                 "model.info": "info"}


def exit_code(run):
    with pytest.raises(SystemExit) as done:
        run()
    return done.value.code


def test_the_usage_lists_every_command_with_its_summary(capsys):
    assert commands.main(["--help"]) == 0
    text = capsys.readouterr().out
    for name, (module, summary) in commands.COMMANDS.items():
        assert f"  {name}" in text and summary in text
        assert callable(importlib.import_module(module).main)
    assert commands.main([]) == 2  # no command: the usage, and a failing status for scripts


def test_an_unknown_command_is_refused_in_one_line(capsys):
    assert commands.main(["trian"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("unknown command 'trian'; choose from weights, info,") and "\n" not in err


@pytest.mark.parametrize("name", list(commands.COMMANDS))
def test_each_command_shows_its_own_help(name, capsys):
    assert exit_code(lambda: commands.main([name, "--help"])) == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m model {name}")


@pytest.mark.parametrize("earlier", list(EARLIER_NAMES))
def test_an_earlier_name_runs_the_same_command(earlier, capsys, monkeypatch):
    name = EARLIER_NAMES[earlier]
    assert exit_code(lambda: commands.main([name, "--help"])) == 0
    expected = capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", [earlier, "--help"])
    assert exit_code(lambda: runpy.run_module(earlier, run_name="__main__")) == 0
    assert capsys.readouterr().out == expected
