"""``python -m model.evaluate``: the earlier name of ``python -m model evaluate``; scripts written for it run."""
import sys

from model.evaluation.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
