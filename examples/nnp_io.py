"""Saving nnabla graphs as .nnp files the way a user's training script would."""
import nnabla as nn
from nnabla.utils import save as nnabla_save


def save_nnp(path, network_name, x, y, parameter_format=".h5"):
    """Save the inference graph ``x -> y`` and the current global parameters to ``path``.

    The network is stored with a variable batch size (-1) and a ``runtime`` executor, as
    ``nnabla.utils.save`` writes it for deployment.
    """
    contents = {
        "networks": [{"name": network_name, "batch_size": 1,
                      "outputs": {"y": y}, "names": {"x": x}}],
        "executors": [{"name": "runtime", "network": network_name,
                       "data": ["x"], "output": ["y"]}],
    }
    nnabla_save.save(str(path), contents, parameter_format=parameter_format)
    return path


def parameters():
    """The current global parameters, by name, as numpy arrays (for inspection in scripts)."""
    return {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
