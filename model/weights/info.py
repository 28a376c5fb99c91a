"""``python -m model info CHECKPOINT``: what a checkpoint is: its encoder, classes, tasks and size."""
import sys

from model import help_text as cli
from model.weights.catalogue import checkpoint_help
from .checkpoint import CheckpointError, load_model

EXAMPLES = """
python -m model info nyud
python -m model info runs/train/best.ckpt
"""


def describe(model):
    preset = model.preset
    params = sum(p.numel() for p in model.parameters())
    lines = [
        f"file:       {model.source}",
        f"encoder:    {model.encoder_name}",
        f"preset:     {preset.name} ({preset.description})",
        f"classes:    {model.num_classes}: {', '.join(preset.classes[:8])}{', ...' if model.num_classes > 8 else ''}",
        f"tasks:      {', '.join(model.tasks)}" + ("  (segmentation only)" if model.tasks == ("segm",) else ""),
        f"parameters: {params:,}",
    ]
    trained = model.meta.get("trained")
    if trained:
        lines.append(f"trained:    {trained}")
    return "\n".join(lines)


def main(argv=None):
    parser = cli.parser("python -m model info", __doc__, EXAMPLES)
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help=checkpoint_help())
    args = parser.parse_args(argv)
    try:
        model = load_model(args.checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(describe(model))
    return 0
