"""bench.png: latency per model (p50 bars, p90 whiskers) beside top-1/top-5 accuracy."""

from __future__ import annotations

from pathlib import Path

from .report import BenchReport, model_label

COLORS = {"fp32": "#4c72b0", "int8": "#dd8452", "fp16": "#55a868"}


def write_chart(report: BenchReport, path: Path) -> None:
    import logging

    # matplotlib logs "generated new fontManager" at INFO on a first run, and Paddle's logging
    # set-up prints INFO records: keep its cache chatter out of the task's output.
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    precs = report.precisions
    rows = report.rows
    acc_rows = [r for r in rows if not r.latency_only]
    height = max(3.5, 0.9 * len(rows) * max(1, len(precs)) / 2 + 2.2)
    fig, (ax_lat, ax_acc) = plt.subplots(
        1, 2, figsize=(12, height), gridspec_kw={"width_ratios": [3, 2]})
    bar_h = 0.8 / max(1, len(precs))
    labels = [model_label(r) for r in rows]
    for i, p in enumerate(precs):
        ys, p50, err = [], [], []
        for j, row in enumerate(rows):
            res = row.results.get(p)
            if res is None or res.latency_ms is None:
                continue
            ys.append(j + (i - (len(precs) - 1) / 2) * bar_h)
            p50.append(res.latency_ms.p50)
            err.append(max(0.0, res.latency_ms.p90 - res.latency_ms.p50))
        bars = ax_lat.barh(ys, p50, height=bar_h, xerr=[[0] * len(err), err], capsize=3,
                           color=COLORS.get(p), label=f"{p.upper()} p50 (whisker: p90)")
        ax_lat.bar_label(bars, labels=[f"{v:.2f}" if v < 100 else f"{v:.0f}" for v in p50],
                         padding=4, fontsize=8)
    ax_lat.set_yticks(range(len(rows)), labels)
    ax_lat.invert_yaxis()
    ax_lat.set_xscale("log")
    ax_lat.set_xlabel("latency per batch, ms (log scale)")
    ax_lat.set_title("Latency: lower is better")
    for j, row in enumerate(rows):
        x = row.speedup.get("int8")
        if x is not None:
            ax_lat.annotate(f"{x:.2f}x", xy=(1.0, j), xycoords=("axes fraction", "data"),
                            xytext=(4, 0), textcoords="offset points", va="center",
                            fontsize=9, fontweight="bold")
    ax_lat.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=len(precs),
                  fontsize=8, frameon=False)
    ax_lat.margins(x=0.25)

    if acc_rows:
        width = 0.7 / max(2, len(precs)) if len(acc_rows) > 1 else 0.3
        for i, p in enumerate(precs):
            xs = [j + (i - (len(precs) - 1) / 2) * width for j in range(len(acc_rows))]
            top1 = [(r.results[p].top1 or 0) * 100 if p in r.results else 0 for r in acc_rows]
            top5 = [(r.results[p].top5 or 0) * 100 if p in r.results else 0 for r in acc_rows]
            ax_acc.bar(xs, top5, width=width, color=COLORS.get(p), alpha=0.3)
            bars = ax_acc.bar(xs, top1, width=width, color=COLORS.get(p),
                              label=f"{p.upper()} top-1 (light: top-5)")
            ax_acc.bar_label(bars, labels=[f"{v:.1f}" for v in top1], fontsize=8)
        ax_acc.set_xticks(range(len(acc_rows)), [model_label(r) for r in acc_rows])
        ax_acc.set_ylim(0, 105)
        ax_acc.set_xlim(-0.9, len(acc_rows) - 0.1)
        ax_acc.set_ylabel("accuracy on the dataset, %")
        ax_acc.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=len(precs),
                      fontsize=8, frameon=False)
    else:
        ax_acc.text(0.5, 0.5, "no accuracy measured\n(latency-only models)", ha="center",
                    va="center", transform=ax_acc.transAxes)
        ax_acc.set_axis_off()
    ax_acc.set_title("Accuracy: higher is better")
    prov = report.provenance
    host = (prov.get("host") or {}).get("cpu_model", "")
    gpus = ", ".join(str(g.get("name")) for g in (prov.get("gpu") or []))
    from .report import used

    fig.suptitle(f"FP32 vs INT8, {', '.join(used(report, 'device'))} "
                 f"({gpus or host}) - {report.created_at}", fontsize=10)
    if any(r.kind == "seeded" for r in rows):
        fig.text(0.01, 0.01, "* seeded weights: latency only", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
