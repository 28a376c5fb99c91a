"""``python -m model.distill``: the earlier name of ``python -m model distill``; scripts written for it run."""
import sys

from model.training.distill import main

if __name__ == "__main__":
    sys.exit(main())
