"""``python -m model.train``: the earlier name of ``python -m model train``; scripts written for it run."""
import sys

from model.training.train import main

if __name__ == "__main__":
    sys.exit(main())
