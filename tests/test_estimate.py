"""finngen estimate: yosys counts recorded beside the analytic estimate."""
from examples_models import MODELS
from finngen import cli
from finngen.builddir import BuildDir


def test_build_with_yosys_estimate(tmp_path, capsys):
    out = tmp_path / "mlp"
    code = cli.main(["build", str(MODELS / "digits_mlp.nnp"), "--fps", "20000", "--board", "pynq-z1",
                     "--out", str(out), "--verify", "0", "--estimate"])
    assert code == 0, capsys.readouterr().err
    report = BuildDir.open(out).read_report()
    yosys, model = report["resources"]["yosys"], report["resources"]["estimate"]
    assert yosys["latches"] == 0
    assert yosys["lut"] > 0 and yosys["ff"] > 0 and yosys["carry4"] > 0
    for key in ("ramb18", "ramb36", "dsp"):
        assert key in yosys
    # the warning is given exactly when the two differ by more than 25%
    differs = abs(model["lut"] - yosys["lut"]) > 0.25 * max(model["lut"], yosys["lut"])
    assert differs == any("LUT" in w for w in report["resources"]["warnings"])
    html = BuildDir.open(out).report_html.read_text()
    assert "yosys synth_xilinx" in html
