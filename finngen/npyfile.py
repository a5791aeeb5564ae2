""".npy files a block of rows at a time, so that `finngen run` holds one block of any number of images.

A memory map would read lazily too, but the pages it touches count as the process's memory
until the kernel needs them back; plain reads and writes of one block keep it small for real.
"""
import os
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


class NpyFile:
    """The array in a .npy file, as far as ``finngen run`` uses arrays: ``shape``, ``ndim``,
    ``dtype``, ``len()``, and ``x[i:j]``, which reads those rows from the file. Raises
    ValueError when the file is not a .npy array of plain numbers or strings, or is cut short."""

    def __init__(self, path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            version = npy.read_magic(f)
            if version not in READERS:
                raise ValueError(f".npy format version {version} is not supported")
            self.shape, fortran_order, self.dtype = READERS[version](f)
            self.offset = f.tell()
        if self.dtype.hasobject:
            raise ValueError("the array holds Python objects")
        if fortran_order and len(self.shape) > 1:
            raise ValueError("the array is in Fortran order (save it with numpy.save of a C-ordered array)")
        self.ndim = len(self.shape)
        self.row = int(np.prod(self.shape[1:], dtype=np.int64)) if self.ndim else 1
        size = self.offset + self.dtype.itemsize * self.row * (self.shape[0] if self.ndim else 1)
        if os.path.getsize(self.path) < size:
            raise ValueError(f"the file is shorter than its {self.shape} {self.dtype} array")

    def __len__(self):
        if not self.ndim:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __getitem__(self, rows):
        if not isinstance(rows, slice) or rows.step not in (None, 1) or not self.ndim:
            raise TypeError("an NpyFile reads a contiguous block of rows, x[i:j]")
        start, stop, _ = rows.indices(len(self))
        count = max(stop - start, 0)
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.row * self.dtype.itemsize)
            block = np.fromfile(f, self.dtype, count * self.row)
        return block.reshape((count,) + self.shape[1:])

    def __array__(self, dtype=None, copy=None):
        whole = self[:] if self.ndim else np.fromfile(self.path, self.dtype, 1, offset=self.offset).reshape(())
        return whole if dtype is None else whole.astype(dtype)


def write_blocks(path, total, blocks, done=None) -> tuple:
    """Write ``blocks`` (arrays of ``total`` rows in all, alike past the first axis) to ``path``
    as one .npy array, one block at a time; ``done(rows)`` is called after each. Returns the
    array's shape. Raises ValueError if the blocks do not add up to ``total`` rows."""
    written, shape = 0, None
    with open(path, "wb") as f:
        for block in blocks:
            block = np.ascontiguousarray(block)
            if shape is None:
                shape = (total,) + block.shape[1:]
                npy.write_array_header_1_0(f, {"descr": npy.dtype_to_descr(block.dtype), "fortran_order": False,
                                               "shape": shape})
            f.write(block.tobytes())
            written += len(block)
            if done:
                done(len(block))
    if shape is None or written != total:
        raise ValueError(f"{written} rows written, not {total}")
    return shape
