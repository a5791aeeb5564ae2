"""The serial link of the ECP5 boards: the frame format on the host's side, and the whole top
level (UART receiver, accelerator, UART transmitter) in Verilator, played by the host's own
encoder and decoder at the real bit timing, against the golden model."""
import json
import shutil

import numpy as np
import pytest

from finngen import host
from finngen.builddir import BuildDir, BuildMeta
from finngen.frames import random_frames
from finngen.ir import DataType
from finngen.board import frames, serial_host
from finngen.board.frames import LinkError
from finngen.compile import planner
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline
from finngen.hw.accelerator import Accelerator

PAYLOAD = bytes(range(40))


def test_reply_round_trip():
    assert frames.parse_reply(frames.reply(PAYLOAD), len(PAYLOAD)) == PAYLOAD


def test_every_single_bit_error_in_a_reply_is_caught():
    good = frames.reply(PAYLOAD)
    for bit in range(8 * len(good)):
        damaged = bytearray(good)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(LinkError):
            frames.parse_reply(bytes(damaged), len(PAYLOAD))


@pytest.mark.parametrize("frame, message", [
    (frames.reply(PAYLOAD)[:-3], "the board sent 43 of 46 bytes"),
    (frames.reply(PAYLOAD, status=frames.BAD_CRC), "damaged request"),
    (frames.reply(PAYLOAD, status=frames.BAD_LENGTH), "wrong length"),
    (frames.request(PAYLOAD) + b"\0", "not the reply byte 0x5a"),
])
def test_bad_replies_are_named(frame, message):
    with pytest.raises(LinkError) as e:
        frames.parse_reply(frame, len(PAYLOAD), where="image 3")
    assert e.value.line().startswith("image 3: ") and message in e.value.line()


def test_request_layout():
    frame = frames.request(b"\x01\x02\x03")
    assert frame[:3] == b"\xa5\x03\x00" and frame[3:6] == b"\x01\x02\x03"
    assert int.from_bytes(frame[6:], "little") == frames.crc16(b"\x03\x00\x01\x02\x03")
    assert frames.crc16(b"123456789") == 0x29B1     # CRC-16/CCITT-FALSE's check value


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A seeded random binarized CNN (convolution, then affine) saved as a real .nnp, and its
    accelerator at the smallest folding: small enough for a quick Verilator build."""
    import modelgen
    path = tmp_path_factory.mktemp("model") / "small.nnp"
    modelgen.make(3, path, modelgen.Options(conv=True))
    network = streamline(nnp.read(path))
    return network, planner.plan(network, 10**6)     # the cheapest plan: the smallest folds


# -- the whole top level in Verilator ----------------------------------------------------------
CLOCK_NS = 25           # 40 MHz
DIVISOR = 16            # 2.5 Mbaud: within the ULX3S FT231X's 3 Mbaud
TIMEOUT = 20 * 10 * DIVISOR     # twenty bytes' time of silence gives a request up


@pytest.mark.rtl
def test_top_level_matches_golden_reports_a_damaged_request_and_survives_a_lost_byte(tmp_path, small):
    from finngen.board.link import SerialAccelerator
    from finngen.sim import runner

    network, folds = small
    top = SerialAccelerator(Accelerator(network, folds), DIVISOR, TIMEOUT)
    interface = top.accelerator.interface
    x = host.nnabla_input(network, random_frames(network, 3, seed=5))
    requests = serial_host.requests(network, interface, x)
    damaged = bytearray(requests[1])
    damaged[len(damaged) // 2] ^= 0x10          # one bit of the second image's payload
    lost = requests[2][:len(requests[2]) // 2]    # the rest of the third image never arrives
    spec = {"clock_ns": CLOCK_NS, "bit_ns": CLOCK_NS * DIVISOR, "latency_cycles": 20000,
            "requests": [requests[0].hex(), bytes(damaged).hex(), lost.hex(), requests[2].hex()],
            "lost": [2], "silence_cycles": 2 * TIMEOUT,
            "reply_size": frames.reply_size(serial_host.reply_bytes(interface))}
    run = runner.run(runner.to_verilog(top, "ecp5_serial_top"), "ecp5_serial_top", "finngen.sim.tb_link",
                     runner.work_dir() / "ecp5_serial_top-verilator", tmp_path / "run", spec, sim="verilator")
    assert run.passed, run.log.read_text()[-2000:]
    replies = [bytes.fromhex(r) for r in json.loads((run.test_dir / "replies.json").read_text())]

    # images 0 and 2 (sent again after its first request lost bytes): bit for bit the golden
    # model, through the host's own decoder
    got = serial_host.decode_replies(network, interface, [replies[0], replies[2]])
    expected = host.run_golden(network, x[[0, 2]])
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    # image 1: the board saw the damage and said so; the host refuses the reply
    with pytest.raises(LinkError, match="image 1: the board received a damaged request"):
        serial_host.decode_replies(network, interface, replies)


@pytest.fixture
def small_build(tmp_path, small):
    """A build directory of the small model for an ECP5 board, as far as 'finngen run' reads it."""
    import modelgen
    directory = tmp_path / "build"
    directory.mkdir()
    modelgen.make(3, directory / "model.nnp", modelgen.Options(conv=True))
    network, folds = small
    BuildDir(directory).write_meta(BuildMeta(
        model="model.nnp", network=network.name, board="ulx3s-85f", board_file="ulx3s-85f", clock_mhz=40.0,
        target_fps="max", input_type=DataType(8), interface=Accelerator(network, folds).interface, baud=115200))
    x = host.nnabla_input(network, random_frames(network, 1))
    np.save(tmp_path / "x.npy", x)
    return directory


def test_board_backend_needs_a_port(small_build, capsys):
    from finngen import cli
    x = small_build.parent / "x.npy"
    assert cli.main(["run", str(small_build), "--backend", "board", "--input", str(x),
                     "--output", str(small_build.parent / "y.npy")]) == 2
    assert "--backend board needs --port" in capsys.readouterr().err
    assert cli.main(["run", str(small_build), "--backend", "board", "--port", str(small_build / "ttyNONE"),
                     "--input", str(x), "--output", str(small_build.parent / "y.npy")]) == 2
    assert "cannot open the serial port" in capsys.readouterr().err
    assert not (small_build.parent / "y.npy").exists()
