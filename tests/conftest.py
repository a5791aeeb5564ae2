import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The example scripts' helpers (saving and loading .nnp files) are shared with the tests.
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "tests"))
logging.getLogger("nnabla").setLevel(logging.WARNING)
