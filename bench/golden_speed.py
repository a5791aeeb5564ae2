"""The golden model (`finngen run --backend golden`) against nnabla's own CPU inference, side by side.

    .venv/bin/python bench/golden_speed.py [--runs 5]

For each example model both run the same seeded random images in this one process, after
start-up (reading the model, building nnabla's graph, one warm-up pass): images/s is the
median of ``--runs`` timed passes over all the images, nnabla's at the best of a few batch
sizes. The passes take turns (finngen, nnabla at each batch size, finngen, ...), so a load
from other processes on the machine falls on both alike. The outputs are compared bit for
bit. Prints a markdown table (docs/benchmarks.md).
"""
import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from finngen import host  # noqa: E402
from finngen.frontend import nnp  # noqa: E402
from finngen.frontend.streamline import streamline  # noqa: E402
from finngen.ir import DataType  # noqa: E402

MODELS = ROOT / "examples" / "models"
# model, images, largest pixel value (CIFAR-style 8-bit; the digits' 0..16), nnabla batch sizes
CASES = [("cnv_w1a1", 400, 255, (50, 100, 200)),
         ("digits_cnn", 20000, 16, (250, 1000, 5000))]


def timed(functions, runs):
    """The median seconds of ``runs`` calls of each function, called in turn, and their last results."""
    times = [[] for _ in functions]
    results = [None] * len(functions)
    for _ in range(runs):
        for k, function in enumerate(functions):
            start = time.perf_counter()
            results[k] = function()
            times[k].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times], results


def nnabla_runner(path, x, batch):
    from nnabla.utils.nnp_graph import NnpLoader
    loader = NnpLoader(str(path))
    net = loader.get_network(loader.get_network_names()[0], batch_size=batch)
    (inp,) = net.inputs.values()
    (out,) = net.outputs.values()

    def run():
        y = []
        for i in range(0, len(x), batch):
            inp.d = x[i:i + batch]
            out.forward(clear_buffer=True)
            y.append(out.d.copy())
        return np.concatenate(y)
    run()   # warm-up: nnabla allocates its buffers on the first pass
    return run


def measure(model, count, top, batches, runs):
    path = MODELS / f"{model}.nnp"
    network = streamline(nnp.read(path), DataType(8))
    x = np.random.default_rng(0).integers(0, top + 1, (count,) + tuple(network.input.nnabla_shape)).astype(np.float32)
    host.run_golden(network, x[:8])
    runners = [lambda: host.run_golden(network, x)] + [nnabla_runner(path, x, batch) for batch in batches]
    seconds, results = timed(runners, runs)
    for batch, t in zip(batches, seconds[1:]):
        print(f"  {model}: nnabla batch {batch}: {count / t:,.0f} images/s", file=sys.stderr)
    best = min(range(len(batches)), key=lambda k: seconds[1 + k])
    golden_s, nnabla_s, batch = seconds[0], seconds[1 + best], batches[best]
    ours, theirs = results[0], results[1 + best]
    equal = np.array_equal(ours.view(np.uint32), theirs.view(np.uint32))
    return {"model": model, "images": count, "golden": count / golden_s, "nnabla": count / nnabla_s,
            "batch": batch, "equal": equal}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="timed passes per measurement (median; default 5)")
    args = p.parse_args()
    logging.getLogger("nnabla").setLevel(logging.WARNING)
    rows = [measure(*case, args.runs) for case in CASES]
    print("| model | images | finngen golden (images/s) | nnabla (images/s, best batch) | ratio | outputs equal |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['images']:,} | {r['golden']:,.0f} | {r['nnabla']:,.0f} (batch {r['batch']}) "
              f"| {r['golden'] / r['nnabla']:.2f} | {'yes' if r['equal'] else 'NO'} |")
    return 0 if all(r["equal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
