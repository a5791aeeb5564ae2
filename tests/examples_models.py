"""Where the shipped example models live."""
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"
