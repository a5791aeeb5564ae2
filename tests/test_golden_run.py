"""`finngen run` in blocks: progress on stderr, bounded memory, the same output as one pass."""
import io
import re
import tracemalloc
import types

import numpy as np
import pytest

from examples_models import MODELS
from finngen import build, cli, golden, host
from finngen import progress
from finngen.npyfile import NpyFile, write_blocks
from finngen.progress import Meter

LINE = re.compile(r"finngen: ([\d,]+) of ([\d,]+) images, ([\d,]+) images/s")


def _digits(n):
    return np.random.default_rng(1).integers(0, 17, (n, 1, 8, 8)).astype(np.float32)


def _run(tmp_path, capsys, model, images, *extra):
    np.save(tmp_path / "x.npy", images)
    code = cli.main(["run", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
                     *extra])
    return code, capsys.readouterr().err


def _progress(err):
    """(done, total) of every progress line; every line that mentions progress has the format."""
    lines = [line for line in err.splitlines() if " images/s" in line or " of " in line]
    assert all(LINE.fullmatch(line) for line in lines), lines
    return [tuple(int(g.replace(",", "")) for g in LINE.fullmatch(line).groups()[:2]) for line in lines]


def test_progress_lines_when_asked_and_quiet_otherwise(tmp_path, capsys, monkeypatch):
    # blocks of 100 images, so that a run of 1,000 reports along the way
    monkeypatch.setattr(golden, "BLOCK_BYTES", 100 * golden.BLOCK_BYTES // golden.block_images(_network()))
    images = _digits(1000)
    code, err = _run(tmp_path, capsys, MODELS / "digits_cnn.nnp", images, "--progress")
    assert code == 0
    progress = _progress(err)
    assert progress[-1] == (1000, 1000) and all(total == 1000 for _, total in progress)
    assert [done for done, _ in progress] == sorted({done for done, _ in progress}), "counts only go up"
    y = np.load(tmp_path / "y.npy")
    assert np.array_equal(y.view(np.uint32), host.run_golden(_network(), images).view(np.uint32))

    code, err = _run(tmp_path, capsys, MODELS / "digits_cnn.nnp", images)
    assert code == 0 and _progress(err) == [] and err.startswith("wrote ")


def _network(model="digits_cnn"):
    from finngen.frontend import nnp
    from finngen.frontend.streamline import streamline
    from finngen.ir import DataType
    return streamline(nnp.read(MODELS / f"{model}.nnp"), DataType(8))


def _clock(monkeypatch, *times):
    clock = iter(times)
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(monotonic=lambda: next(clock)))


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_meter_on_a_terminal_waits_then_redraws_one_line(monkeypatch):
    _clock(monkeypatch, 0.0, 1.0, 2.5, 2.7, 3.5, 10.0, 13.0)
    out = Terminal()
    with Meter(400, stream=out) as meter:
        for _ in range(4):
            meter.update(100)
    # t=1.0: too early; t=2.5: shown; t=2.7: within 0.5 s of the last; t=3.5: the last, shown
    assert out.getvalue() == "\rfinngen: 200 of 400 images, 80 images/s\x1b[K" \
                             "\rfinngen: 400 of 400 images, 114 images/s\x1b[K\n"
    quiet = io.StringIO()
    with Meter(10, stream=quiet) as meter:
        meter.update(10)
    assert quiet.getvalue() == "", "not a terminal and not asked: nothing"


def test_interrupted_meter_ends_its_line(monkeypatch):
    _clock(monkeypatch, 0.0, 3.0)
    out = Terminal()
    with pytest.raises(KeyboardInterrupt):
        with Meter(100, stream=out) as meter:
            meter.update(30)
            raise KeyboardInterrupt
    assert out.getvalue() == "\rfinngen: 30 of 100 images, 10 images/s\x1b[K\n"


def test_input_error_names_the_index_in_the_whole_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(golden, "BLOCK_BYTES", 1)   # one image per block
    images = _digits(5)
    images[3, 0, 2, 1] = 17.5
    code, err = _run(tmp_path, capsys, MODELS / "digits_cnn.nnp", images)
    assert code == 4 and "input value at index (3, 0, 2, 1) (17.5) is not an integer" in err
    assert not list(tmp_path.glob(".y.npy*")) and not (tmp_path / "y.npy").exists()


@pytest.mark.rtl
def test_rtl_run_in_blocks_reports_progress(tmp_path, capsys, monkeypatch):
    out = build.build(build.Options(model=MODELS / "digits_mlp.nnp", fps="20000", board="pynq-z1",
                                    out=tmp_path / "mlp", verify=0))
    network = _network("digits_mlp")
    monkeypatch.setattr(cli, "RTL_BLOCK_SECONDS", 0)    # every block the smallest, 16 frames
    images = _digits(40)
    code, err = _run(tmp_path, capsys, out, images, "--backend", "rtl", "--progress")
    assert code == 0, err
    assert _progress(err) == [(16, 40), (32, 40), (40, 40)]
    y = np.load(tmp_path / "y.npy")
    assert np.array_equal(y.view(np.uint32), host.run_golden(network, images).view(np.uint32))


def test_memory_stays_bounded_whatever_the_number_of_images(tmp_path, capsys, monkeypatch):
    """Python's allocations (numpy's included) peak at a few blocks, far below the input's size."""
    monkeypatch.setattr(golden, "BLOCK_BYTES", 1 << 19)
    _run(tmp_path, capsys, MODELS / "digits_cnn.nnp", _digits(2))    # imports done before the count
    images = _digits(12000)     # 3 MB of float32 in, 0.5 MB out
    np.save(tmp_path / "x.npy", images)
    del images
    tracemalloc.start()
    try:
        code = cli.main(["run", str(MODELS / "digits_cnn.nnp"), "--input", str(tmp_path / "x.npy"),
                         "--output", str(tmp_path / "y.npy")])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0, capsys.readouterr().err
    assert peak < 1_500_000, f"peak {peak:,} bytes"
    assert np.load(tmp_path / "y.npy").shape == (12000, 10)


def test_npy_file_reads_and_writes_blocks(tmp_path):
    x = np.arange(7 * 3 * 2, dtype=np.int16).reshape(7, 3, 2)
    np.save(tmp_path / "x.npy", x)
    f = NpyFile(tmp_path / "x.npy")
    assert (f.shape, f.ndim, f.dtype, len(f)) == (x.shape, 3, x.dtype, 7)
    assert np.array_equal(f[2:5], x[2:5]) and np.array_equal(f[5:100], x[5:]) and np.array_equal(np.asarray(f), x)
    shape = write_blocks(tmp_path / "y.npy", 7, (f[i:i + 3] for i in range(0, 7, 3)))
    assert shape == x.shape and np.array_equal(np.load(tmp_path / "y.npy"), x)
    with pytest.raises(ValueError, match="3 rows written, not 7"):
        write_blocks(tmp_path / "z.npy", 7, [x[:3]])

    (tmp_path / "cut.npy").write_bytes((tmp_path / "x.npy").read_bytes()[:-1])
    with pytest.raises(ValueError, match="shorter than its"):
        NpyFile(tmp_path / "cut.npy")
    np.save(tmp_path / "objects.npy", np.array([{}, 1], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects"):
        NpyFile(tmp_path / "objects.npy")
    np.save(tmp_path / "fortran.npy", np.asfortranarray(x))
    with pytest.raises(ValueError, match="Fortran order"):
        NpyFile(tmp_path / "fortran.npy")
