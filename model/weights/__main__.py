"""``python -m model.weights``: the earlier name of ``python -m model weights``; scripts written for it run."""
import sys

from model.weights.catalogue import main

if __name__ == "__main__":
    sys.exit(main())
