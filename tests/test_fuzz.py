"""Fuzzing: mutated models, images and board files get finngen's own errors, never a crash.

Bounded for `make test`; FINNGEN_FUZZ_EXAMPLES raises the count for a long run (docs/fuzzing.md).
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from examples_models import MODELS, members, zip_bytes
from finngen.board import boards
from finngen import cli
from finngen.errors import FinngenError

EXAMPLES = int(os.environ.get("FINNGEN_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
MODEL = MODELS / "digits_cnn.nnp"
ALLOWED = {0, 2, 3, 4}


def _run_model(tmp_path, capsys, data, images=None):
    model = tmp_path / "m.nnp"
    model.write_bytes(data)
    if images is None:
        images = np.random.default_rng(0).integers(0, 17, (2, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", images)
    code = cli.main(["run", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err
    assert code in ALLOWED, err
    if code:
        assert err.startswith("finngen: error: ") and err.count("\n") == 1, err
    return code


@FUZZ
@given(st.data())
def test_mutated_model_bytes(tmp_path, capsys, data):
    raw = bytearray(MODEL.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    _run_model(tmp_path, capsys, bytes(raw))


@FUZZ
@given(st.data())
def test_mutated_network_text(tmp_path, capsys, data):
    contents = members(MODEL)
    lines = contents["network.nntxt"].decode().splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "number", "duplicate", "rename"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "number" and ":" in lines[i]:
            key = lines[i].split(":")[0]
            lines[i] = f"{key}: {data.draw(st.sampled_from(['0', '-1', '2', '3', '7', '1000000', '1.5', 'true']))}"
        elif action == "rename" and '"' in lines[i]:
            key = lines[i].split(":")[0]
            lines[i] = f'{key}: "{data.draw(st.sampled_from(["x", "y", "nope", "", "BinaryTanh", "ReLU"]))}"'
        if not lines:
            break
    contents["network.nntxt"] = "\n".join(lines).encode()
    _run_model(tmp_path, capsys, zip_bytes(contents))


@FUZZ
@given(st.data())
def test_mutated_parameters(tmp_path, capsys, data):
    contents = members(MODEL)
    raw = bytearray(contents["parameter.h5"])
    for _ in range(data.draw(st.integers(1, 16))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    contents["parameter.h5"] = bytes(raw)
    _run_model(tmp_path, capsys, zip_bytes(contents))


@FUZZ
@given(st.data())
def test_mutated_images(tmp_path, capsys, data):
    shape = data.draw(st.sampled_from([(2, 1, 8, 8), (1, 8, 8), (2, 64), (0, 1, 8, 8), (2, 1, 8, 9), ()]))
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int8, np.uint8, np.int64, np.bool_, np.float16]))
    values = data.draw(st.lists(st.sampled_from([0, 1, 16, 255, 256, -1, 0.5, np.nan, np.inf, -0.0, 1e30]),
                                min_size=1, max_size=4))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    with np.errstate(invalid="ignore", over="ignore"):
        images = np.asarray(rng.choice(values, size=shape)).astype(dtype)
    _run_model(tmp_path, capsys, MODEL.read_bytes(), images)


@FUZZ
@given(st.data())
def test_mutated_board_files(tmp_path, data):
    text = (boards.BOARDS_DIR / "pynq-z1.yaml").read_text()
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(chars) - 1))
        chars[i] = data.draw(st.sampled_from(list(":-[]{}\n #'\"0a9&*!|>%@`\t")))
    try:
        boards.parse("".join(chars), "mutated.yaml")
    except FinngenError as e:
        assert "\n" not in e.line()
