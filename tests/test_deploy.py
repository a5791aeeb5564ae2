"""``finngen deploy`` against a real OpenSSH server on loopback, started by the test as the
current user, with a stand-in ``pynq`` on the "board": test_driver's DMA model with the golden
model behind it instead of the RTL simulation, so the build's driver runs unchanged."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finngen.board import deploy, vivado
from finngen.builddir import BuildDir
from finngen.errors import ToolError, UsageError
from test_driver import built  # noqa: F401 (the digits MLP build, with its driver)

ROOT = Path(__file__).resolve().parents[1]
SSHD = "/usr/sbin/sshd"
STAND_IN = """import sys
sys.path[:0] = {paths!r}
import numpy as np
import test_driver as bench
from finngen.board import boards
from finngen import codec, golden
from finngen.builddir import BuildDir

BUILD = {build!r}
NETWORK = BuildDir.open(BUILD).network()


class GoldenDesign(bench.BlockDesign):
    def _simulate(self):
        # each DMA packet (a batch) comes back as one packet, as the accelerator sends it
        i, shape = self.interface, NETWORK.input.stream_shape
        for packet in self.packets:
            words = packet.reshape(-1, self.beats_in, self.layout["in_width"] // 8)
            stream = codec.unpack_words(words, i["in_bits"], i["in_lanes"], NETWORK.input.stream_type.signed)
            out = golden.forward(NETWORK, stream.reshape(-1, shape.height, shape.width, shape.channels))
            beats = codec.pack_words(out.reshape(len(out), -1), i["out_bits"], i["out_lanes"], self.layout["out_width"])
            self.results.append(beats.reshape(-1))
        self.packets.clear()


bench.Overlay.design = GoldenDesign(__import__("pathlib").Path(BUILD), NETWORK, boards.load("pynq-z1"))
Overlay, allocate = bench.Overlay, bench.allocate
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ssh_config(tmp_path_factory):
    """ssh arguments (-F config) that reach a private sshd as root@board."""
    if not os.path.exists(SSHD) or os.geteuid() != 0 or not shutil.which("ssh"):
        pytest.skip("needs root and OpenSSH (apt-get install -y openssh-server openssh-client)")
    d = tmp_path_factory.mktemp("ssh")
    for key in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    shutil.copyfile(d / "user_key.pub", d / "authorized_keys")
    port = free_port()
    (d / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {d / 'host_key'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n")
    (d / "client_config").write_text(
        f"Host board\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {d / 'user_key'}\n"
        f"  UserKnownHostsFile {d / 'known_hosts'}\n  StrictHostKeyChecking accept-new\n")
    # sshd's privilege-separation directory, which the service would create at boot
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stderr=open(d / "sshd.log", "wb"))
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield ["-F", str(d / "client_config")]
    finally:
        server.terminate()
        server.wait()


@pytest.fixture
def overlay(built):  # noqa: F811
    out, meta, _ = built
    BuildDir(out).overlay.mkdir(parents=True, exist_ok=True)
    for suffix in (".bit", ".hwh"):
        (BuildDir(out).overlay / f"{vivado.overlay_name(meta)}{suffix}").write_text("overlay")
    return out


@pytest.mark.slow
def test_board_runs_the_driver_and_matches(overlay, ssh_config, tmp_path):
    board_dir = tmp_path / "on the board; $HOME"      # the remote shell must take it literally
    (board_dir / deploy.DRIVER).mkdir(parents=True)
    (board_dir / deploy.DRIVER / "pynq.py").write_text(
        STAND_IN.format(paths=[str(ROOT), str(ROOT / "tests")], build=str(overlay)))
    result = deploy.deploy(BuildDir.open(overlay), "root@board", str(board_dir), images=4, python=sys.executable,
                           ssh_args=ssh_config)
    assert result["match"] and result["images_per_s"] > 0 and len(result["scores"]) == 4
    assert (board_dir / deploy.DRIVER / "digits_mlp.bit").is_file()
    deploy.check(result)


def test_missing_overlay_names_synth(built, tmp_path):  # noqa: F811
    out, meta, _ = built
    shutil.rmtree(BuildDir(out).overlay, ignore_errors=True)
    with pytest.raises(UsageError) as e:
        deploy.deploy(BuildDir.open(out), "root@board")
    assert "finngen synth" in e.value.line()


def test_unreachable_host(overlay, tmp_path):
    config = tmp_path / "config"
    config.write_text(f"Host nowhere\n  HostName 127.0.0.1\n  Port {free_port()}\n")
    with pytest.raises(ToolError, match="ssh to root@nowhere failed"):
        deploy.deploy(BuildDir.open(overlay), "root@nowhere", ssh_args=["-F", str(config)])
