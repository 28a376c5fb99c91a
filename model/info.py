"""``python -m model.info``: the earlier name of ``python -m model info``; scripts written for it run."""
import sys

from model.weights.info import main

if __name__ == "__main__":
    sys.exit(main())
