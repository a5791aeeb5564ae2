"""Top-1 accuracy of a score array against labels.

    python -m examples.accuracy SCORES.npy LABELS.npy   ->   accuracy: 62/64 = 96.9%
"""
import argparse

import numpy as np


def count_correct(scores, labels):
    """Number of rows whose argmax over axis 1 equals the label, and the number of rows."""
    scores = np.asarray(scores)
    labels = np.asarray(labels).reshape(-1)
    if scores.ndim != 2 or len(scores) != len(labels):
        raise ValueError(f"need scores (N, classes) and labels (N,), got {scores.shape} "
                         f"and {labels.shape}")
    return int(np.sum(np.argmax(scores, axis=1) == labels)), len(labels)


def format_accuracy(scores, labels):
    correct, total = count_correct(scores, labels)
    return f"accuracy: {correct}/{total} = {100.0 * correct / total:.1f}%"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", help=".npy of shape (N, classes)")
    parser.add_argument("labels", help=".npy of shape (N,)")
    args = parser.parse_args()
    print(format_accuracy(np.load(args.scores), np.load(args.labels)))


if __name__ == "__main__":
    main()
