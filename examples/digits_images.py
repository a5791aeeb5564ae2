"""Write the first N test images of the digits split (and their labels) as .npy files.

    python -m examples.digits_images --out build/demo/digits.npy --labels build/demo/labels.npy
"""
import argparse
from pathlib import Path

import numpy as np

from .digits_data import load_split


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path,
                        help="images: float32 (N,1,8,8), integer pixel values 0..16")
    parser.add_argument("--labels", required=True, type=Path, help="labels: int64 (N,)")
    parser.add_argument("--count", type=int, default=64, help="number of test images (default 64)")
    return parser.parse_args()


def save_array(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)


def main():
    args = parse_args()
    _, _, x_test, y_test = load_split()
    if not 0 < args.count <= len(x_test):
        raise SystemExit(f"--count must be between 1 and {len(x_test)}, got {args.count}")
    save_array(args.out, x_test[:args.count])
    save_array(args.labels, y_test[:args.count])
    print(f"wrote {args.count} images to {args.out} and labels to {args.labels}")


if __name__ == "__main__":
    main()
