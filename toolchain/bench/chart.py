"""bench.png: latency per model beside top-1/top-5 accuracy.

Left, one panel per (model, batch size) on its own linear axis from 0: a p50 bar per
precision, the speed-up against FP32 written on the bar's label, a whisker to p90
where p90 has enough samples, hatches on unstable and busy measurements. With
`--backends`, each other engine's variant is a lighter bar under Paddle's of the same
precision, labelled with its speed against Paddle; the fastest at a precision says so.
Right, accuracy as points on an axis zoomed to the data, top-1 and top-5 written.
"""

from __future__ import annotations

from pathlib import Path

from .report import BenchReport, model_label, used
from .rows import BASELINE, BenchRow

COLORS = {"fp32": "#4c72b0", "int8": "#dd8452", "fp16": "#55a868", "bf16": "#8172b3"}
UNSTABLE_HATCH = "//"
BUSY_HATCH = "xx"


def hatch_of(res) -> str | None:
    """The bar's hatch: unstable and/or measured on a busy machine (None: neither)."""
    hatch = ""
    if res.stability is not None and not res.stability.stable:
        hatch += UNSTABLE_HATCH
    if res.busy:
        hatch += BUSY_HATCH
    return hatch or None


def bar_text(row: BenchRow, precision: str) -> str:
    """'1.234 ms' and, for the non-baseline precisions, '2.05x faster' (or slower)."""
    p50 = row.results[precision].latency_ms.p50
    text = f"{p50:.3g} ms" if p50 < 1000 else f"{p50:.0f} ms"
    x = row.speedup.get(precision)
    if x is not None and precision != BASELINE:
        text += f"  {x:.2f}x " + ("faster" if x >= 1 else "slower")
    return text


def variants(row: BenchRow, precs: list[str]) -> list[tuple[str, object]]:
    """The bars of a model's panel, top to bottom: per precision Paddle's, then each other
    engine's that has a p50 ("" names Paddle's: its label is the precision alone)."""
    out = []
    for p in precs:
        for res in row.by_precision().get(p, []):
            if res.latency_ms:
                out.append(("" if res.backend == "paddle" else res.backend, res))
    return out


def variant_text(row: BenchRow, backend: str, res) -> str:
    """Paddle's bar: bar_text. Another engine's: its p50 and its speed against Paddle at the
    same precision; the fastest at that precision says so."""
    if not backend:
        text = bar_text(row, res.precision)
    else:
        p50 = res.latency_ms.p50
        text = f"{p50:.3g} ms" if p50 < 1000 else f"{p50:.0f} ms"
        paddle = row.results.get(res.precision)
        if paddle is not None and paddle.latency_ms and p50 > 0:
            text += f"  {paddle.latency_ms.p50 / p50:.2f}x Paddle's"
    if row.backends and row.fastest.get(res.precision) == res.backend:
        text += "  (fastest)"
    return text


def _latency_panel(ax, row: BenchRow, precs: list[str]) -> None:
    bars = variants(row, precs)
    p50 = [res.latency_ms.p50 for _, res in bars]
    p90 = [res.latency_ms.p90 for _, res in bars]
    for i, (backend, res) in enumerate(bars):
        whisker = None if p90[i] is None else [[0], [max(0.0, p90[i] - p50[i])]]
        ax.barh(i, p50[i], height=0.7, color=COLORS.get(res.precision, "#888888"),
                alpha=0.45 if backend else 1.0, xerr=whisker, capsize=3, hatch=hatch_of(res),
                edgecolor="black" if hatch_of(res) else None, linewidth=0.6)
        label = variant_text(row, backend, res) + ("  (p90 n/a)" if p90[i] is None else "")
        ax.text((p90[i] if p90[i] is not None else p50[i]), i, "  " + label,
                va="center", fontsize=8,
                fontweight="bold" if res.precision != BASELINE and not backend else "normal")
    names = [f"{res.precision.upper()} {backend or ('paddle' if row.backends else '')}"
             for backend, res in bars]
    ax.set_yticks(range(len(bars)), [n.strip() for n in names], fontsize=8)
    ax.invert_yaxis()
    top = max((b for b in p90 + p50 if b is not None), default=1.0)
    ax.set_xlim(0, top * 1.7)      # room for the label right of the longest bar
    ax.set_title(model_label(row), loc="left", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)


def _accuracy_panel(ax, rows: list[BenchRow], precs: list[str]) -> bool:
    """Points per model and precision; False when no row has accuracy."""
    acc_rows = [r for r in rows if not r.latency_only]
    if not acc_rows:
        ax.text(0.5, 0.5, "no accuracy measured\n(latency-only models)", ha="center",
                va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return False
    values = [v * 100 for r in acc_rows for res in r.results.values()
              for v in (res.top1, res.top5) if v is not None]
    lo, hi = min(values), max(values)
    pad = max(0.5, (hi - lo) * 0.15)
    step = 0.8 / max(1, len(precs))
    for j, row in enumerate(acc_rows):
        for i, p in enumerate(precs):
            res = row.results.get(p)
            if res is None or res.top1 is None:
                continue
            y = j + (i - (len(precs) - 1) / 2) * step
            color = COLORS.get(p, "#888888")
            ax.plot([res.top1 * 100], [y], "o", color=color, markersize=7)
            if res.top5 is not None:
                ax.plot([res.top5 * 100], [y], "D", markerfacecolor="white",
                        markeredgecolor=color, markersize=6)
            text = f"{p.upper()} top-1 {res.top1 * 100:.2f}" + (
                f" / top-5 {res.top5 * 100:.2f}" if res.top5 is not None else "")
            ax.annotate(text, xy=(1.0, y), xycoords=("axes fraction", "data"),
                        xytext=(6, 0), textcoords="offset points", va="center", fontsize=8,
                        color=color)
    ax.set_yticks(range(len(acc_rows)), [model_label(r) for r in acc_rows], fontsize=8)
    ax.set_ylim(len(acc_rows) - 0.5, -0.5)
    ax.set_xlim(max(0.0, lo - pad), min(100.0, hi + pad) if hi + pad <= 100 else hi + pad)
    ax.set_xlabel("accuracy on the dataset, % (axis zoomed to the data)", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="x", labelsize=8)
    return True


def write_chart(report: BenchReport, path: Path) -> None:
    import logging

    # matplotlib logs "generated new fontManager" at INFO on a first run, and Paddle's logging
    # set-up prints INFO records: keep its cache chatter out of the task's output.
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    precs = report.precisions
    rows = [r for r in report.rows if any(res.latency_ms for res in r.results.values())]
    n = max(1, len(rows))
    panel_h = 0.45 + 0.3 * max([1, len(precs)] + [len(variants(r, precs)) for r in rows])
    fig = plt.figure(figsize=(13, max(4.0, n * panel_h + 1.8)))
    grid = fig.add_gridspec(n, 2, width_ratios=[3, 2], wspace=0.4)
    axes = [fig.add_subplot(grid[j, 0]) for j in range(n)]
    for ax, row in zip(axes, rows):
        _latency_panel(ax, row, precs)
    axes[-1].set_xlabel("p50 latency per batch, ms (linear, from 0; each panel its own scale)",
                        fontsize=8)
    axes[0].annotate("Latency: lower is better", xy=(0, 1), xycoords="axes fraction",
                     xytext=(0, 18), textcoords="offset points", fontsize=10,
                     fontweight="bold")
    ax_acc = fig.add_subplot(grid[:, 1])
    has_accuracy = _accuracy_panel(ax_acc, report.rows, precs)
    ax_acc.set_title("Accuracy: higher is better", loc="left", fontsize=10, fontweight="bold")

    handles = [Patch(facecolor=COLORS.get(p, "#888888"), label=f"{p.upper()} p50") for p in precs]
    if any(r.backends for r in rows):
        handles.append(Patch(facecolor="#888888", alpha=0.45,
                             label="lighter: other engines (--backends)"))
    handles.append(Line2D([], [], color="black", marker="|", linestyle="-",
                          label="whisker: p90 (none: under 64 samples)"))
    if has_accuracy:
        handles += [Line2D([], [], marker="o", color="#555555", linestyle="", label="top-1"),
                    Line2D([], [], marker="D", markerfacecolor="white", color="#555555",
                           linestyle="", label="top-5")]
    marks = {UNSTABLE_HATCH: "not stable", BUSY_HATCH: "machine busy"}
    for hatch, label in marks.items():
        if any(hatch in (hatch_of(res) or "") for r in rows for _, res in variants(r, precs)):
            handles.append(Patch(facecolor="white", edgecolor="black", hatch=hatch, label=label))
    fig.legend(handles=handles, loc="lower left", ncol=len(handles), fontsize=8,
               frameon=False, bbox_to_anchor=(0.02, 0.0))
    prov = report.provenance
    host = (prov.get("host") or {}).get("cpu_model", "")
    gpus = ", ".join(str(g.get("name")) for g in (prov.get("gpu") or []))
    fig.suptitle(f"{' vs '.join(p.upper() for p in precs)}, {', '.join(used(report, 'device'))} "
                 f"({gpus or host}) - {report.created_at}", fontsize=10)
    if any(r.kind == "seeded" for r in report.rows):
        fig.text(0.98, 0.01, "* seeded weights: latency only", fontsize=8, ha="right")
    left = 0.12 if any(r.backends for r in rows) else 0.08    # room for "FP32 onnxruntime"
    fig.subplots_adjust(left=left, right=0.80, top=1 - 0.9 / fig.get_figheight(),
                        bottom=1.0 / fig.get_figheight(), hspace=0.9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
