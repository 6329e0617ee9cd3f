"""Print the name of the ridge fit with the best mean cross-validated score (for recipe scripts).

Example::

    python -m espnet_brain.bin.best_ridge exp/ridge_frozen_layer1 exp/ridge_frozen_layer2

Each argument is an output directory of ``espnet_brain.bin.ridge_encoding`` (its ``cv_scores.npy``, (V,)); the
program prints the basename of the one whose voxels' mean cross-validated score is highest, without its
``ridge_`` prefix (``frozen_layer2``), so that a stage script can pick a layer on training data only.
"""

import argparse
import os
import sys
from typing import Optional, Sequence

import numpy as np


def best_ridge(ridge_dirs: Sequence[str]) -> str:
    """The directory of ``ridge_dirs`` whose ``cv_scores.npy`` has the highest mean (NaN voxels left out).

    Raises:
        FileNotFoundError: a directory without ``cv_scores.npy`` (named).
    """
    means = []
    for d in ridge_dirs:
        path = os.path.join(d, "cv_scores.npy")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no cross-validation scores (is {d} an output of ridge_encoding?)")
        means.append(float(np.nanmean(np.load(path))))
    return ridge_dirs[int(np.argmax(means))]


def main(cmd: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ridge_dirs", nargs="+", help="output directories of espnet_brain.bin.ridge_encoding")
    args = parser.parse_args(cmd)
    name = os.path.basename(os.path.normpath(best_ridge(args.ridge_dirs)))
    print(name[len("ridge_") :] if name.startswith("ridge_") else name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
