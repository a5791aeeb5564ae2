"""Damaged, hostile and inconsistent model files: one clear line each, exit code 3."""
import io
import zipfile

import h5py
import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import numpy as np
import pytest

from examples_models import MODELS, members, zip_bytes
from finngen import cli, host
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline
from finngen.ir import DataType
from examples.nnp_files import forward_saved
from examples.nnp_io import save_nnp
from finngen.errors import ModelError, MissingToolError

SOURCE = MODELS / "digits_mlp.nnp"


def _edit_text(old, new, count=1):
    contents = members(SOURCE)
    text = contents["network.nntxt"].decode()
    assert old in text
    contents["network.nntxt"] = text.replace(old, new, count).encode()
    return zip_bytes(contents)


def _edit_param(name, change):
    contents = members(SOURCE)
    out = io.BytesIO()
    with h5py.File(io.BytesIO(contents["parameter.h5"]), "r") as src, h5py.File(out, "w") as dst:
        def copy(key, obj):
            if isinstance(obj, h5py.Dataset):
                value = obj[()]
                if key == name:
                    value = change(value)
                if value is not None:
                    dst[key] = value
        src.visititems(copy)
    contents["parameter.h5"] = out.getvalue()
    return zip_bytes(contents)


def _huge_member():
    buf = io.BytesIO(zip_bytes(members(SOURCE)))
    with zipfile.ZipFile(buf, "a") as z:
        info = zipfile.ZipInfo("parameter.protobuf")
        z.writestr(info, b"\0" * 1024)
    raw = bytearray(buf.getvalue())
    # claim 4 GB uncompressed in the central directory entry of the added member
    at = raw.rfind(b"PK\x01\x02")
    raw[at + 24:at + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    return bytes(raw)


CASES = {
    "empty": (lambda: b"", "the file is empty"),
    "not_zip": (lambda: b"hello world, not a model", "not a .nnp file (not a zip archive"),
    "truncated": (lambda: SOURCE.read_bytes()[:5000], "not a .nnp file"),
    "escaping": (lambda: zip_bytes({**members(SOURCE), "../evil.txt": b"x"}), "whose path escapes the archive"),
    "absolute": (lambda: zip_bytes({**members(SOURCE), "/etc/evil": b"x"}), "whose path escapes the archive"),
    "huge_member": (_huge_member, "more than any model that fits an FPGA"),
    "no_network_member": (lambda: zip_bytes({k: v for k, v in members(SOURCE).items() if k != "network.nntxt"}),
                          "has no network.nntxt"),
    "malformed_text": (lambda: _edit_text("network {", "network {{ oops"), "network.nntxt is malformed"),
    "executor_names_missing_network": (lambda: _edit_text('network_name: "digits_mlp"', 'network_name: "other"'),
                                       "names network 'other', which the file does not have"),
    "missing_parameter": (lambda: _edit_param("fc0/bicon_affine/W", lambda v: None), "is missing from the file"),
    "wrong_shape": (lambda: _edit_param("fc0/bicon_affine/W", lambda v: v[:10]), "has shape (10, 256)"),
    "wrong_dtype": (lambda: _edit_param("fc0/bicon_affine/W", lambda v: v.astype(np.complex64)),
                    "is complex64, not a real number type"),
    "float64_overflow": (lambda: _edit_param("fc0/bn/var", lambda v: v.astype(np.float64) * 1e300),
                         "holds NaN or Inf (as float32"),
    "nan": (lambda: _edit_param("fc0/bicon_affine/W", lambda v: np.where(v == v.flat[7], np.nan, v)),
            "holds NaN or Inf"),
    "negative_variance": (lambda: _edit_param("fc0/bn/var", lambda v: -v), "is negative in channel 0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_model_file(tmp_path, capsys, case):
    make, phrase = CASES[case]
    model = tmp_path / "m.nnp"
    model.write_bytes(make())
    assert cli.main(["inspect", str(model)]) in (ModelError.exit_code, 0)
    capsys.readouterr()
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    code = cli.main(["run", str(model), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err
    assert code == ModelError.exit_code, err
    assert err.count("\n") == 1 and phrase in err, err
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "evil.txt").exists()


def test_float64_parameters_run_as_nnabla_runs_them(tmp_path):
    # Assigning float64 arrays to p.d and saving stores float64 datasets; nnabla loads them and
    # computes in float32. Values below float32's range become signed zeros (binarized by
    # quantize_zero_to), and the batch norms round to float32 before they run.
    nn.clear_parameters()
    x = nn.Variable((1, 6))
    h = F.binary_tanh(PF.batch_normalization(PF.binary_connect_affine(x, 5, name="a"), batch_stat=False, name="bn"))
    h = F.binary_tanh(PF.binary_weight_affine(h, 4, name="w", with_bias=False))
    y = PF.batch_normalization(PF.binary_connect_affine(h, 3, name="c"), batch_stat=False, name="bnc")
    rng = np.random.default_rng(11)
    for name, p in nn.get_parameters(grad_only=False).items():
        v = rng.normal(size=p.shape) * (1 + 1e-9)
        if name == "a/bicon_affine/W":
            v[0, :3] = [1e-50, -1e-50, -1e-300]
        p.d = np.abs(v) if name.endswith("var") else v
    model = save_nnp(tmp_path / "f64.nnp", "f64", x, y)
    with zipfile.ZipFile(model) as z, h5py.File(io.BytesIO(z.read("parameter.h5"))) as h5:
        assert h5["a/bicon_affine/W"].dtype == np.float64
    images = rng.integers(0, 8, size=(64, 6)).astype(np.float32)
    expected = forward_saved(model, "f64", images)
    got = host.run_golden(streamline(nnp.read(model), DataType(3)), images)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_missing_simulator_says_how_to_get_it(monkeypatch):
    from finngen.sim import runner
    monkeypatch.setattr(runner.shutil, "which", lambda name: None)
    with pytest.raises(MissingToolError) as e:
        runner.check_simulator("icarus")
    assert "apt-get install iverilog" in e.value.line()
