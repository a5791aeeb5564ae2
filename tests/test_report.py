"""report.html and report.json name each stage by a short unique label (issue 10.8)."""
import json
import re

from examples_models import MODELS
from finngen import cli


def test_stage_labels_are_short_and_unique(tmp_path, capsys):
    out = tmp_path / "cnn"
    assert cli.main(["build", str(MODELS / "digits_cnn.nnp"), "--fps", "20000", "--board", "pynq-z1",
                     "--out", str(out), "--verify", "0"]) == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    names = [stage["name"] for stage in report["layers"]]
    # two convolutions, two pools, the affine layer, their windows and one width converter
    assert names == ["swu0", "mvtu0", "pool0", "dwc0", "swu1", "mvtu1", "pool1", "mvtu2"]
    assert report["predicted"]["bottleneck"] in names
    html = (out / "report.html").read_text()
    chart = re.findall(r'<text x="\d+" y="\d+" text-anchor="end" font-size="12">([^<]*)</text>', html)
    assert chart == names
    # the table still says which layer each stage serves, whole
    assert "@digits_cnn/BinaryConnectConvolution_1</td>" in html
