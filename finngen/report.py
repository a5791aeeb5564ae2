"""The build report: ``report.json`` for tools, ``report.html`` for people (no network needed)."""
from __future__ import annotations

import html
from dataclasses import asdict

from .compile import pipeline


def summary(meta, network, chain, per_stage, total, board, clock_mhz, budget, verification, choice=None) -> dict:
    """report.json; ``choice`` is the objective's (:mod:`finngen.compile.objective`) when the
    planner chose the folds for a target."""
    cycles = pipeline.cycles_per_frame(chain)
    lanes = sum(s.mac_lanes for s in chain)
    labels = pipeline.labels(chain)
    macs = sum(layer.macs_per_frame for layer in network.matrix_layers)
    return {
        "model": meta["model"],
        "network": network.name,
        "board": board.name,
        "part": board.part,
        "clock_mhz": clock_mhz,
        "target_fps": meta["target_fps"],
        "budget_cycles_per_frame": budget,
        "plan": choice.report(clock_mhz) if choice is not None else None,
        "predicted": {"cycles_per_frame": cycles, "fps": clock_mhz * 1e6 / cycles,
                      "bottleneck": labels[chain.index(pipeline.bottleneck(chain))],
                      "macs_per_frame": macs, "xnor_lanes": lanes,
                      "lane_utilisation": macs / (lanes * cycles)},
        "layers": [_stage(s, label, r) for s, label, r in zip(chain, labels, per_stage)],
        "resources": {"estimate": board.usage(total.rounded()), "board": dict(board.resources)},
        "interface": meta["interface"],
        "verification": verification,
    }


def _stage(stage, label, res) -> dict:
    entry = {"name": label, "kind": stage.kind, "layer": stage.layer.name, "pe": stage.pe, "simd": stage.simd,
             "cycles": stage.cycles, "latency": stage.latency}
    entry.update(asdict(res.rounded()))
    entry.update(stage.details())
    return entry


def describe(resources: dict) -> str:
    """``resources`` in the keys of a board (Xilinx or ECP5) as text."""
    return ", ".join(f"{value:,.0f} {key.upper()}" for key, value in resources.items())


def faster_plan(data: dict) -> str:
    """Why the build is faster than ``--fps`` asked, when the objective chose a faster plan than
    the cheapest ("" otherwise), for the build's summary line and report.html."""
    plan = data.get("plan")
    if not plan or not plan["faster"]:
        return ""
    cheapest = plan["cheapest"]
    return (f" (a faster plan than the {float(data['target_fps']):,.0f} FPS asked: {plan['more_fps']:+.1%} FPS for "
            f"{plan['more_lut']:+.1%} LUT over the cheapest, {cheapest['fps']:,.0f} FPS in {cheapest['lut']:,} LUT)")


# where a matrix unit's weights sit (the report's "weights"), as the stage table says it
_PLACES = {"block": "block RAM", "logic": "LUTs"}


def render_html(data: dict) -> str:
    e = html.escape
    p = data["predicted"]
    rows = "".join(
        f"<tr><td>{e(s['name'])}</td><td>{e(s['kind'])}</td><td>{e(s['layer'])}</td><td>{s['pe']}</td><td>{s['simd']}</td>"
        f"<td>{s['cycles']:,}</td><td>{s['lut']:,}</td><td>{s['bram36']:g}</td><td>{_PLACES.get(s.get('weights'), '')}</td></tr>"
        for s in data["layers"])
    v = data.get("verification")
    verified = ("not run" if not v else
                f"{v['frames']} frames, {'bit exact' if v['bit_exact'] else 'MISMATCH'}, "
                f"{v['sim_cycles_per_frame']:,.0f} cycles/frame measured in {e(v['simulator'])}"
                if v['sim_cycles_per_frame'] else f"{v['frames']} frame(s), bit exact: {v['bit_exact']}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>finngen report: {e(data['network'])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: right; }}
td:first-child, td:nth-child(2), td:nth-child(3), th {{ text-align: left; }}
.bar {{ fill: #4a7ab5; }} .over {{ fill: #c0392b; }} .budget {{ stroke: #c0392b; stroke-dasharray: 4 2; }}
</style></head><body>
<h1>{e(data['network'])} on {e(data['board'])}</h1>
<p>Model {e(data['model'])}, part {e(data['part'])}, {data['clock_mhz']:g} MHz, {_target(data)}.</p>
<p><b>Predicted:</b> {p['cycles_per_frame']:,} cycles per frame = {p['fps']:,.0f} frames/s
(bottleneck {e(p['bottleneck'])}){e(faster_plan(data))}; {p['xnor_lanes']:,} XNOR lanes, {p['lane_utilisation']:.1%} busy.
<b>Verification:</b> {verified}.</p>
<h2>Cycles per stage</h2>
{_cycles_chart(data)}
<h2>Resources against the board</h2>
{_resource_chart(data)}
{_resource_table(data)}
{_timing_section(data.get("timing"))}
<h2>Stages</h2>
<table><tr><th>stage</th><th>kind</th><th>layer</th><th>PE</th><th>SIMD</th><th>cycles/frame</th><th>LUT</th><th>BRAM36</th><th>weights in</th></tr>
{rows}</table>
</body></html>
"""


def _target(data) -> str:
    # with a folding file and no --fps, the folding fixes the rate
    return "rate fixed by the folding file" if data["target_fps"] is None else \
        f"target {html.escape(str(data['target_fps']))} FPS"


def _resource_table(data) -> str:
    res = data["resources"]
    columns = [("analytic estimate", res["estimate"])] + ([("yosys synth_xilinx", res["yosys"])]
                                                          if "yosys" in res else []) + [("board", res["board"])]
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in columns)
    rows = "".join(f"<tr><td>{key.upper()}</td>" + "".join(f"<td>{values[key]:,.0f}</td>" for _, values in columns)
                   + "</tr>" for key in res["board"])
    notes = "".join(f"<p>Warning: {html.escape(w)}</p>" for w in res.get("warnings", []))
    return f"<table><tr><th>resource</th>{head}</tr>{rows}</table>{notes}"


def _timing_section(t) -> str:
    """Place and route (``finngen timing``), when it ran."""
    if not t:
        return ""
    e, path = html.escape, t["worst_path"]
    worst = f" Worst path: from {e(path['from'])} to {e(path['to'])}." if path.get("from") else ""
    return (f"<h2>Timing</h2><p>{e(t['tool'])} on {e(t['part'])}: Fmax <b>{t['fmax_mhz']:g} MHz</b>, "
            f"{'meets' if t['met'] else 'misses'} the {t['clock_mhz']:g} MHz clock; {t['lut4']:,} LUT4, "
            f"{t['ff']:,} FF, {t['dp16kd']} DP16KD placed.{worst}</p>")


def _cycles_chart(data) -> str:
    stages = data["layers"]
    budget = data.get("budget_cycles_per_frame") or data["predicted"]["cycles_per_frame"]
    top = max([budget] + [s["cycles"] for s in stages])
    width, row, left = 600, 18, 80      # labels are short (pipeline.labels): a narrow margin
    bars = []
    for k, s in enumerate(stages):
        w = max(1, round(width * s["cycles"] / top))
        cls = "over" if s["cycles"] > budget else "bar"
        bars.append(f'<rect class="{cls}" x="{left}" y="{k * row}" width="{w}" height="{row - 4}"/>'
                    f'<text x="{left - 5}" y="{k * row + row - 6}" text-anchor="end" font-size="12">'
                    f'{html.escape(s["name"])}</text>')
    x = left + round(width * budget / top)
    bars.append(f'<line class="budget" x1="{x}" y1="0" x2="{x}" y2="{len(stages) * row}"/>'
                f'<text x="{x + 4}" y="{len(stages) * row + 14}" font-size="12">budget {budget:,} cycles</text>')
    return f'<svg width="{left + width + 160}" height="{len(stages) * row + 20}">{"".join(bars)}</svg>'


def _resource_chart(data) -> str:
    est, board = data["resources"]["estimate"], data["resources"]["board"]
    parts = []
    for k, key in enumerate(board):
        share = est[key] / board[key] if board[key] else 0
        w = round(400 * min(share, 1))
        parts.append(f'<rect x="80" y="{k * 22}" width="400" height="16" fill="#eee"/>'
                     f'<rect class="{"over" if share > 1 else "bar"}" x="80" y="{k * 22}" width="{w}" height="16"/>'
                     f'<text x="0" y="{k * 22 + 13}" font-size="12">{key.upper()}</text>'
                     f'<text x="490" y="{k * 22 + 13}" font-size="12">{est[key]:,.0f} / {board[key]:,} '
                     f'({share:.0%})</text>')
    return f'<svg width="700" height="{len(board) * 22}">{"".join(parts)}</svg>'
