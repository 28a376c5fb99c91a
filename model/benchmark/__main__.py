"""``python -m model.benchmark``: the earlier name of ``python -m model benchmark``; scripts written for it run."""
import sys

from model.benchmark.run import main

if __name__ == "__main__":
    sys.exit(main())
