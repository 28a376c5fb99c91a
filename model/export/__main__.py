"""``python -m model.export``: the earlier name of ``python -m model export``; scripts written for it run."""
import sys

from model.export.onnx import main

if __name__ == "__main__":
    sys.exit(main())
