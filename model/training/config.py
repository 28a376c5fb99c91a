"""The settings of ``python -m model train``: their defaults and help texts, a YAML/JSON config file, and the
flags that override it."""
import argparse
import json
import math
import reprlib
from pathlib import Path

from model import help_text as cli
from model.errors import first_line
from model.network.encoders import DEFAULT_ENCODER, ENCODERS
from model.presets import TASKS, presets
from model.weights.catalogue import checkpoint_help

from .losses import DEFAULT_WEIGHTS

DEFAULTS = {
    "train": None,
    "val": None,
    "root": None,
    "preset": "nyud",
    "classes": None,
    "tasks": None,
    "depth_png_scale": None,
    "encoder": DEFAULT_ENCODER,
    "pretrained": "imagenet",
    "init": None,
    "out": "runs/train",
    "epochs": 100,
    "batch_size": 6,
    "crop": 400,
    "scale": [0.5, 2.0],
    "flip": True,
    "lr_encoder": 1e-3,
    "lr_decoder": 1e-2,
    "momentum": 0.9,
    "weight_decay": 1e-5,
    "lr_step": 50,
    "lr_gamma": 0.1,
    "loss_weights": dict(DEFAULT_WEIGHTS),
    "workers": 2,
    "seed": 0,
    "device": "auto",
    "amp": True,
    "sync_bn": False,
    "freeze_bn": False,
    "progress": True,
}
HELP = {
    "train": "list file (rgb<TAB>mask<TAB>depth[<TAB>normals]) or folder (rgb/, masks/, depth/, normals/)",
    "val": "the same, for validation after each epoch",
    "root": "folder the lists' paths are relative to (default: each list's folder)",
    "preset": "classes, colours and depth PNG scale of the data",
    "classes": "class names, for classes no preset has (overrides the preset's)",
    "tasks": "tasks to train (default: the preset's)",
    "depth_png_scale": "ground-truth depth PNG value per metre (default: the preset's: NYUD 5000, KITTI 800)",
    "encoder": "the backbone",
    "pretrained": "the encoder's start: torchvision's ImageNet weights, or none (random)",
    "init": "where to start from; a new segmentation head if the classes differ",
    "out": "output folder",
    "batch_size": "per process",
    "crop": "square training crop in pixels (0: none)",
    "scale": "random scale range",
    "lr_decoder": "learning rate of the decoder and heads",
    "lr_step": "epochs between learning-rate decays by --lr-gamma",
    "loss_weights": "per task, e.g. depth=1.0",
    "epochs": "passes over the training data",
    "lr_encoder": "learning rate of the encoder",
    "momentum": "SGD momentum",
    "weight_decay": "SGD weight decay",
    "lr_gamma": "learning-rate decay factor",
    "workers": "data-loading processes (per process)",
    "seed": "random seed",
    "device": "auto, cpu, cuda or cuda:N",
    "flip": "random horizontal flips",
    "progress": "progress bars",
    "amp": "fp16 mixed precision, on CUDA only",
    "sync_bn": "SyncBatchNorm across processes (CUDA only)",
    "freeze_bn": "BatchNorm on its running statistics (small batches, fine-tuning)",
}


class ConfigError(ValueError):
    """A setting that cannot be used; one line."""


def load_config(path):
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config ({e.strerror or e})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
                          f"{first_line(e)}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{path}: unknown settings {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    return data


CHOICES = {"preset": tuple(presets()), "tasks": TASKS, "encoder": tuple(ENCODERS), "pretrained": ("imagenet", "none")}
METAVARS = {"train": "LIST|DIR", "val": "LIST|DIR", "root": "DIR", "classes": "NAME", "init": "NAME|PATH",
            "out": "DIR", "scale": "X", "depth_png_scale": "X", "device": "DEVICE"}
EXAMPLES = """
python -m model train --train data/train.txt --val data/val.txt --preset nyud --out runs/nyud
python -m model train --config train.yaml --init nyud --epochs 20 --lr-encoder 1e-4   # fine-tune
python -m model train --config train.yaml --out runs/nyud --resume
"""


def _shown(default):
    if isinstance(default, bool):
        return "yes" if default else "no"
    if isinstance(default, dict):
        return " ".join(f"{k}={v:g}" for k, v in default.items())
    if isinstance(default, list):
        return " ".join(f"{v:g}" for v in default)
    return default


def parse_args(argv=None, description=__doc__):
    """``(config, resume)`` from the defaults, ``--config``'s file and the flags."""
    parser = cli.parser("python -m model train", description, EXAMPLES)
    parser.add_argument("--config", metavar="FILE", help="YAML or JSON file of settings (flags override it)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    for key, default in DEFAULTS.items():
        flag = "--" + key.replace("_", "-")
        help_text = checkpoint_help(HELP[key]) if key == "init" else HELP.get(key)
        value = _shown(default)
        shown = {"help": " ".join(filter(None, (help_text, f"(default: {value})" if value is not None else "")))}
        if key in CHOICES and key != "tasks":
            shown["choices"] = CHOICES[key]
        if isinstance(default, bool):
            parser.add_argument(flag, type=_boolean, metavar="yes|no", default=argparse.SUPPRESS, **shown)
        elif key in ("scale", "classes", "tasks"):
            parser.add_argument(flag, nargs="+", default=argparse.SUPPRESS, type=float if key == "scale" else str,
                                metavar=METAVARS.get(key), choices=CHOICES.get(key), **shown)
        elif key == "loss_weights":
            parser.add_argument(flag, metavar="TASK=W", nargs="+", default=argparse.SUPPRESS, **shown)
        else:
            kind = float if key == "depth_png_scale" else type(default) if default is not None else str
            metavar = METAVARS.get(key, None if key in CHOICES else "X" if kind is float else "N" if kind is int
                                   else None)
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, metavar=metavar, **shown)
    args = vars(parser.parse_args(argv))
    config = dict(DEFAULTS)
    if args.get("config"):
        config.update(load_config(args.pop("config")))
    args.pop("config", None)
    resume = args.pop("resume")
    if "loss_weights" in args:
        args["loss_weights"] = {**config["loss_weights"], **_weights(args["loss_weights"])}
    config.update(args)
    return config, resume


def _boolean(text):
    if text.lower() in ("yes", "true", "1", "on"):
        return True
    if text.lower() in ("no", "false", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


def _weights(pairs):
    out = {}
    for pair in pairs:
        task, _, value = pair.partition("=")
        try:
            out[task] = float(value)
        except ValueError:
            raise ConfigError(f"--loss-weights: expected TASK=WEIGHT, got {pair!r}") from None
    return out


class SettingsInvalid(ConfigError):
    """Settings refused before anything runs: ``problems`` holds one line per bad value."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def checked(config):
    """``config`` with every setting checked before anything runs (a number given as text, as YAML reads ``1e-3``,
    becomes that number); SettingsInvalid naming each bad value otherwise."""
    config = dict(config)
    problems = []
    for key, check in CHECKS.items():
        try:
            config[key] = check(config.get(key))
        except ValueError as e:
            problems.append(f"{key}: {e}")
    if not config.get("train") and not any(p.startswith("train:") for p in problems):
        problems.insert(0, "no training data: set train (a list file or a folder) in the config or with --train")
    if not problems and config["scale"][0] > config["scale"][1]:
        problems.append(f"scale: {_shown(config['scale'])} is not a range (low high)")
    if problems:
        raise SettingsInvalid(problems)
    return config


def _number(value, low=None, above=None, at_most=None):
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{_repr(value)} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if low is not None and value < low:
        raise ValueError(f"{value:g} is below {low:g}")
    if above is not None and not value > above:
        raise ValueError(f"{value:g} must be above {above:g}")
    if at_most is not None and value > at_most:
        raise ValueError(f"{value:g} is above {at_most:g}")
    return float(value)


def _whole(value, low):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{_repr(value)} is not a whole number")
    if value < low:
        raise ValueError(f"{value} is below {low}")
    return value


def _flag(value):
    if not isinstance(value, bool):
        raise ValueError(f"{_repr(value)} is not yes or no")
    return value


def _text(value, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{_repr(value)} is not a text")
    return value


def _existing(value, folder=False, optional=True):
    if value is None and optional:
        return None
    path = Path(_text(value))
    if not path.exists():
        raise ValueError(f"{value} does not exist")
    if folder and not path.is_dir():
        raise ValueError(f"{value} is not a folder")
    return value


def _choice(value, choices):
    if value not in choices:
        raise ValueError(f"{_repr(value)} is not one of {', '.join(choices)}")
    return value


def _names(value, choices=None):
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{_repr(value)} is not a list of names")
    unknown = [v for v in value if choices and v not in choices]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not among {', '.join(choices)}")
    return list(value)


def _scale(value):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{_repr(value)} is not two numbers (low high)")
    return [_number(v, above=0) for v in value]


def _loss_weights(value):
    if not isinstance(value, dict):
        raise ValueError(f"{_repr(value)} is not a mapping of task to weight")
    unknown = [str(t) for t in value if t not in TASKS]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not among {', '.join(TASKS)}")
    out = {}
    for task, weight in value.items():
        try:
            out[task] = _number(weight, low=0)
        except ValueError as e:
            raise ValueError(f"{task} {e}") from None
    return out


def _repr(value):
    return reprlib.repr(value)


CHECKS = {
    "train": lambda v: _existing(v, optional=True),
    "val": _existing,
    "root": lambda v: _existing(v, folder=True),
    "preset": lambda v: _choice(v, CHOICES["preset"]),
    "classes": _names,
    "tasks": lambda v: _names(v, TASKS),
    "depth_png_scale": lambda v: None if v is None else _number(v, above=0),
    "encoder": lambda v: _choice(v, CHOICES["encoder"]),
    "pretrained": lambda v: _choice(v, CHOICES["pretrained"]),
    "init": lambda v: _text(v, optional=True),
    "out": _text,
    "epochs": lambda v: _whole(v, 1),
    "batch_size": lambda v: _whole(v, 1),
    "crop": lambda v: _whole(v, 0),
    "scale": _scale,
    "flip": _flag,
    "lr_encoder": lambda v: _number(v, low=0),
    "lr_decoder": lambda v: _number(v, low=0),
    "momentum": lambda v: _number(v, low=0, at_most=1),
    "weight_decay": lambda v: _number(v, low=0),
    "lr_step": lambda v: _whole(v, 1),
    "lr_gamma": lambda v: _number(v, above=0),
    "loss_weights": _loss_weights,
    "workers": lambda v: _whole(v, 0),
    "seed": lambda v: _whole(v, 0),
    "device": _text,
    "amp": _flag,
    "sync_bn": _flag,
    "freeze_bn": _flag,
    "progress": _flag,
}
