"""``python -m model COMMAND [ARGS]``: the toolkit's commands, each with its own ``--help``."""
import importlib
import sys

COMMANDS = {
    "weights": ("model.weights.catalogue", "list, download, verify and install the released checkpoints"),
    "info": ("model.weights.info", "what a checkpoint is: encoder, preset, classes, tasks, parameters"),
    "evaluate": ("model.evaluation.evaluate", "the standard NYUDv2 / KITTI figures of a checkpoint"),
    "benchmark": ("model.benchmark.run", "how fast each way of running the network is here"),
    "export": ("model.export.onnx", "the network as ONNX, and its int8 version"),
    "quantize": ("model.benchmark.int8_search", "the mixed int8 graph for this CPU: what stays in fp32, and why"),
    "stabiliser": ("model.benchmark.stabiliser", "flicker with and without the temporal stabiliser, and its cost"),
    "nyud-list": ("model.data.nyud_export", "NYUDv2's official .mat files as PNGs and list files (official split)"),
    "train": ("model.training.train", "training with asymmetric labels"),
    "distill": ("model.training.distill", "fill the missing labels of a list with a teacher"),
}


def usage():
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items())
    return f"usage: python -m model COMMAND [ARGS]\n\ncommands:\n{rows}\n\n'python -m model COMMAND --help' for each"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, args = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[name][0]).main(args)


if __name__ == "__main__":
    sys.exit(main())
