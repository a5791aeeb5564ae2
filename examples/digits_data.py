"""scikit-learn's bundled 8x8 digits as integer-valued images, with a fixed train/test split."""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_split():
    """Return ``(x_train, y_train, x_test, y_test)``.

    Images are float32 arrays of shape (N, 1, 8, 8) holding the exact pixel values 0..16.
    They are deliberately *not* normalised: the accelerator's first layer takes integer
    inputs, so the trained network must see the same integers the hardware will get.
    Labels are int64 class indices 0..9. The split is the same on every call.
    """
    digits = load_digits()  # ships with scikit-learn, no download
    images = digits.images.astype(np.float32)[:, np.newaxis, :, :]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_FRACTION, random_state=SPLIT_SEED)
    return x_train, y_train, x_test, y_test


def load_split_28():
    """The same split upscaled to MNIST's geometry: float32 (N, 1, 28, 28) holding integers
    0..240 (each pixel 0..16 times 15, nearest-neighbour upscaling), as uint8 images would."""
    x_train, y_train, x_test, y_test = load_split()
    rows = np.arange(28) * 8 // 28

    def upscale(x):
        return x[:, :, rows][:, :, :, rows] * np.float32(15)
    return upscale(x_train), y_train, upscale(x_test), y_test
