"""Training settings: defaults, then the config file, then the flags; unknown settings refused in one line."""
import pytest

from model.training.config import ConfigError, parse_args


def test_config_file_then_flags(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: 7\nbatch_size: 3\nscale: [0.75, 1.25]\nloss_weights: {segm: 1.0}\n")
    config, resume = parse_args(["--config", str(cfg), "--batch-size", "5", "--flip", "no", "--resume",
                                 "--loss-weights", "depth=0.25"])
    assert (config["epochs"], config["batch_size"], config["flip"], resume) == (7, 5, False, True)
    assert config["scale"] == [0.75, 1.25] and config["loss_weights"]["segm"] == 1.0
    assert config["loss_weights"]["depth"] == 0.25
    (tmp_path / "bad.json").write_text('{"epoch": 3}')
    with pytest.raises(ConfigError, match="unknown settings epoch"):
        parse_args(["--config", str(tmp_path / "bad.json")])


def test_bad_loss_weight_and_unreadable_config_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"^--loss-weights: expected TASK=WEIGHT, got 'depth=x'$"):
        parse_args(["--loss-weights", "depth=x"])
    with pytest.raises(ConfigError, match=r"missing.yaml: cannot read the config"):
        parse_args(["--config", str(tmp_path / "missing.yaml")])
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping of settings"):
        parse_args(["--config", str(tmp_path / "list.yaml")])
