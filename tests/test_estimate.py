"""finngen estimate: yosys counts recorded beside the analytic estimate."""
import pytest

import planner_models
from examples_models import MODELS
from finngen import cli
from finngen.builddir import BuildDir

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("estimate") / "mlp"
    code = cli.main(["build", str(MODELS / "digits_mlp.nnp"), "--fps", "20000", "--board", "pynq-z1",
                     "--out", str(out), "--verify", "0", "--estimate"])
    assert code == 0
    return out


def test_build_with_yosys_estimate(built):
    report = BuildDir.open(built).read_report()
    yosys, model = report["resources"]["yosys"], report["resources"]["estimate"]
    assert yosys["latches"] == 0
    assert yosys["lut"] > 0 and yosys["ff"] > 0 and yosys["carry4"] > 0
    for key in ("ramb18", "ramb36", "dsp"):
        assert key in yosys
    # docs/calibration.md: the model's LUTs stay within 30% of yosys' (finngen estimate counts a
    # LUT RAM cell as one LUT, so it reads a little lower), and the weight memories map to
    # exactly the block RAMs it predicts; so no warning here
    assert abs(model["lut"] - yosys["lut"]) <= 0.30 * yosys["lut"], (model, yosys)
    assert model["bram36"] == yosys["bram36"]
    assert report["resources"]["warnings"] == []
    assert "yosys synth_xilinx" in BuildDir.open(built).report_html.read_text()


def test_estimate_warns_when_the_model_is_far_off(tmp_path, capsys):
    """A report claiming a million LUTs for a single small affine layer is far off by any
    measure: finngen estimate says so, for the LUTs only."""
    out = tmp_path / "fc"
    assert cli.main(["build", str(planner_models.make("affine_144", tmp_path)), "--fps", "1000", "--board",
                     "pynq-z1", "--out", str(out), "--verify", "0"]) == 0
    build = BuildDir.open(out)
    report = build.read_report()
    report["resources"]["estimate"]["lut"] = 1_000_000
    build.write_report(report)
    assert cli.main(["estimate", str(out)]) == 0
    warnings = build.read_report()["resources"]["warnings"]
    assert len(warnings) == 1 and "LUT" in warnings[0]
    assert "warning: the analytic LUT estimate" in capsys.readouterr().err
