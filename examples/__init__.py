"""Example networks for finngen: training and generator scripts (run as ``python -m examples.NAME``
from the repository root) and the helpers they share with the tests."""
