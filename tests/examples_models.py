"""Where the shipped example models live, and taking .nnp archives apart for the tests."""
import io
import zipfile
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"


def members(path) -> dict:
    """The archive members of a .nnp file, by name."""
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def zip_bytes(contents: dict) -> bytes:
    """A valid zip archive holding ``contents`` (name -> bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in contents.items():
            z.writestr(name, data)
    return buf.getvalue()
