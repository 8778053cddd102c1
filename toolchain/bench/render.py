"""The bench report on screen (rich): the table, percentiles, gates, change, files."""

from __future__ import annotations

from typing import Any

from .compare import Comparison
from .compare import NOISE, NOT_COMPARABLE, SPEED_CHANGED
from .report import (BUSY, FASTEST, BenchReport, backend_table, busy_summary,
                     has_backends, main_table, max_cov, ms, parity_table, pct, tail_cell)
from .tails import COV_WARNING

# Shorter headings than bench.md's so the tables fit an 80-column terminal.
SCREEN_WIDTH = 80
SHORT_CELL = 16     # wider cells are text that may wrap
SCREEN_HEAD = {"top-1/top-5 (%)": "acc", "p50 (ms)": "ms", "speed-up (x)": "speed-up",
               "latency reduction (%)": "reduction"}


def _short(name: str) -> str:
    for long, short in SCREEN_HEAD.items():
        name = name.replace(long, short)
    return name.replace("INT8 speed-up", "Speed-up").replace("INT8 reduction", "Reduction")


def table(title: str, head: list[str], body: list[list[str]], text_columns: tuple = (0,),
          no_wrap: tuple = (0,)):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # space-separated columns without padding: the tables fit 80 columns
    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
                  padding=(0, 1), collapse_padding=True, pad_edge=False, show_edge=False)

    cell_widths = [max([Text.from_markup(cells[i]).cell_len for cells in body
                        if i < len(cells)] + [1]) for i in range(len(head))]
    # In a table wider than 80 columns, each column of short cells (numbers, names) is as
    # wide as its widest cell or the longest word of its header, so its header wraps
    # between words and its cells never do; columns of longer text take the rest and wrap.
    fixed = sum(max(w, len(name)) for w, name in zip(cell_widths, head)) \
        + 2 * (len(head) - 1) > SCREEN_WIDTH
    for i, name in enumerate(head):
        width = max([cell_widths[i]] + [len(w) for w in name.split()]) \
            if fixed and cell_widths[i] <= SHORT_CELL else None
        table.add_column(name, justify="left" if i in text_columns else "right",
                         no_wrap=(i in no_wrap), width=width, overflow="fold")
    for cells in body:
        table.add_row(*cells)
    return table


def _screen_cell(cell: str) -> str:
    """'96.00/100.00' -> '96.0/100.0' and 'latency only' -> 'n/a' (the file keeps both);
    a busy measurement in red."""
    if cell.endswith(f" {BUSY}"):
        return f"[bold red]{cell[:-len(BUSY) - 1]} {BUSY}[/]"
    if cell == "latency only":
        return "n/a"
    if "/" in cell:
        try:
            return "/".join(f"{float(x):.1f}" for x in cell.split("/"))
        except ValueError:
            return cell
    return cell


def _changes(cmp: Comparison) -> tuple[list[str], list[list[str]]]:
    def arrow(old: str, new: str) -> str:
        return new if old == new else f"{old} -> {new}"

    head = ["Model", "Prec", "p50 ms", "change", "top-1 %", "speed-up"]
    body = []
    for r in cmp.rows:
        name = r.model if r.batch_size == 1 else f"{r.model} b{r.batch_size}"
        if r.status != "both":
            body.append([name, r.precision, r.status, "", "", ""])
            continue
        change = "-" if r.p50_change_pct is None else f"{r.p50_change_pct:+.1f}%"
        if r.verdict in (NOT_COMPARABLE, SPEED_CHANGED):
            change = "[red]not comparable[/]"
        elif r.verdict == NOISE:
            change += " (noise)"
        sp = [("-" if v is None else f"{v:.2f}") for v in (r.old_speedup, r.new_speedup)]
        body.append([name, r.precision, arrow(ms(r.old_p50_ms), ms(r.new_p50_ms)), change,
                     arrow(pct(r.old_top1), pct(r.new_top1)), arrow(*sp)])
    return head, body


def _percentiles(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    head = ["Model", "Prec", "p50", "p90", "p99", "img/s", "Spread", "Stable", "Machine"]
    body = []
    for row in report.rows:
        for p, res in row.results.items():
            lat, st = res.latency_ms, res.stability
            name = row.model if row.batch_size == 1 else f"{row.model} b{row.batch_size}"
            body.append([name, p, ms(lat.p50) if lat else "-",
                         *(tail_cell(res, k).replace(" samples", "") for k in ("p90", "p99")),
                         "-" if res.throughput_ips is None else f"{res.throughput_ips:.0f}",
                         f"{st.spread * 100:.1f}%" if st else "-",
                         ("yes" if st.stable else "no") if st else "-",
                         f"[bold red]{BUSY}[/]" if res.busy else ("quiet" if res.machine else "-")])
    return head, body


def _backends_screen(report: BenchReport) -> tuple[list[str], list[list[str]], list[str]]:
    """bench.md's backend table in 80 columns: the model named once per group, the
    fastest marked on its backend, no Fastest column; why a backend cannot run goes
    below the table (the third item), the row says "cannot run"."""
    from rich.markup import escape

    head = ["Model", "Prec", "Backend", "acc", "p50", "p90", "vs paddle", "vs fp32", "stable"]
    body, reasons, last = [], [], None
    for cells in backend_table(report):
        model, prec, backend, *rest = cells
        fastest = rest.pop() == FASTEST
        if rest[0].startswith("cannot run: "):
            reasons.append(f"{model} {prec} {backend} {rest[0]}")
            rest = ["[yellow]cannot run[/]"] + [""] * 5
        else:
            rest = [_screen_cell(c) for c in rest]
        model, backend = escape(model), escape(backend)
        body.append([model if model != last else "", prec,
                     f"[bold green]{backend}*[/]" if fastest else backend, *rest])
        last = model
    return head, body, reasons


def _screen_ms(cell: str) -> str:
    """A p50 in at most 5 characters: '1.514', '47.78', '244.2'."""
    number, _, rest = cell.partition(" ")
    try:
        v = float(number)
    except ValueError:
        return cell
    digits = 3 if v < 10 else 2 if v < 100 else 1 if v < 1000 else 0
    return f"{v:.{digits}f}" + (f" {rest}" if rest else "")


def screen_main_table(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    """main_table for 80 columns: p50s in 5 characters; with more than two precisions, top-1
    alone and no latency-reduction columns (bench.md keeps top-5 and the reductions)."""
    head, body = main_table(report)
    many = len(report.precisions) > 2
    keep = [i for i, h in enumerate(head) if not (many and "latency reduction" in h)]

    def cell(i: int, c: str) -> str:
        if head[i].endswith("p50 (ms)"):
            return _screen_cell(_screen_ms(c))
        c = _screen_cell(c)
        return c.split("/")[0] if many and head[i].endswith("top-1/top-5 (%)") else c

    body = [[cell(i, c) for i, c in enumerate(cells) if i in keep] for cells in body]
    head = [_short(head[i]) for i in keep]
    if many:
        head = [h.replace(" acc", " top-1").replace("Speed-up", "INT8 speed-up")
                for h in head]
    return head, body


def render_report(con: Any, report: BenchReport, percentiles: bool = True) -> None:
    from rich.markup import escape

    head, body = screen_main_table(report)
    con.print()
    many = len(report.precisions) > 2
    con.print(table(f"{' vs '.join(p.upper() for p in report.precisions)}: "
                    + ("top-1 %" if many else "acc = top-1/top-5 %")
                    + ", ms = p50 latency per batch", head, body,
                    no_wrap=(0,) + tuple(i for i, h in enumerate(head) if h.endswith(" acc"))))
    if any(r.kind == "seeded" for r in report.rows):
        con.print("[dim]* seeded weights (untrained): latency only, accuracy n/a.[/]")
    if len(report.precisions) > 2:
        con.print("[dim]Speed-up = FP32 p50 / this precision's p50. Top-5 and the latency "
                  "reductions (1 - 1/speed-up, what the tutorial's \"speed-up\" column holds) "
                  "are in bench.md.[/]")
    else:
        con.print("[dim]Speed-up = FP32 p50 / INT8 p50; reduction = 1 - INT8 p50 / FP32 p50 "
                  "(what the tutorial's \"speed-up\" column holds).[/]")
    if percentiles:
        con.print()
        con.print(table("Latency per batch (ms; all percentiles in bench.md)",
                         *_percentiles(report)))
    if has_backends(report):
        con.print()
        head, body, reasons = _backends_screen(report)
        con.print(table("Backends on the same files, inputs and timer (CPU, ms per batch)",
                        head, body, text_columns=(0, 1, 2), no_wrap=(0, 1, 2, 3, 4, 5)))
        for reason in reasons:
            con.print(f"[yellow]{escape(reason)}[/]")
        con.print("[dim]vs paddle = Paddle p50 / this p50 at the same precision; vs fp32 = the "
                  "backend's own FP32 p50 / this p50; [bold green]*[/] = fastest at that "
                  "precision.[/]")
    unstable: dict[str, list[str]] = {}
    for r in report.rows:
        for p, res in r.results.items():
            if res.stability and not res.stability.stable:
                name = r.model if r.batch_size == 1 else f"{r.model} b{r.batch_size}"
                unstable.setdefault(f"{name} ({res.stability.reason})", []).append(p)
    if unstable:
        items = ", ".join(f"{k.split(' (')[0]} {'/'.join(v)} ({k.split(' (')[1]}"
                          for k, v in unstable.items())
        con.print(f"[yellow]not stable within {report.rule.tolerance * 100:.0f} %: "
                  f"{escape(items)}; their Spread (bench.md) is the noise of these numbers[/]")
    busy = [f"{r.model} b{r.batch_size} {p}" for r in report.rows for p, res in r.results.items()
            if res.busy]
    if busy:
        worst = max((res for r in report.rows for res in r.results.values() if res.busy),
                    key=lambda res: max((m.other_cores or 0.0 for m in res.machine),
                                        default=0.0))
        con.print(f"[bold red]machine busy during {escape(', '.join(busy))}[/]: "
                  f"{escape(busy_summary(worst))}. These numbers are not this machine's speed "
                  "(bench.md: the readings).")
    noisy = [f"{r.model} b{r.batch_size} {p} {c * 100:.1f} %" for r in report.rows
             for p, res in r.results.items() if (c := max_cov(res)) is not None
             and c > COV_WARNING]
    if noisy:
        con.print(f"[yellow]CoV above {COV_WARNING * 100:g} % (trtexec's warning: clocks, "
                  f"spin-wait or other work): {escape(', '.join(noisy))}[/]")
    if report.comparison:
        con.print()
        con.print(table(f"Change against {report.comparison.old_file}",
                        *_changes(report.comparison)))
        busy = [f"{r.model} b{r.batch_size} {r.precision} ({' and '.join(r.busy)} run)"
                for r in report.comparison.rows if r.verdict == NOT_COMPARABLE]
        if busy:
            con.print(f"[red]{NOT_COMPARABLE}:[/] {escape(', '.join(busy))}")
        moved = report.comparison.machine_speed_change_pct
        if any(r.verdict == SPEED_CHANGED for r in report.comparison.rows):
            con.print(f"[red]{SPEED_CHANGED}:[/] the machine itself ran "
                      f"{abs(moved):.0f} % {'slower' if moved > 0 else 'faster'} than in the "
                      "old run (the speed probe in bench.json: provenance.machine_speed), so "
                      "these changes are the machine's, not the software's")
        for key, (old, new) in report.comparison.context_changes.items():
            con.print(f"[yellow]{escape(key)} changed:[/] {escape(str(old))} -> "
                      f"{escape(str(new))}")
    if report.parity:
        con.print()
        con.print(table("C++ demo and Python runner side by side (top-1 %, p50 ms)",
                        ["Model", "Prec", "C++", "Python", "equal", "C++ ms", "Py ms", "diff",
                         "noise", "agree"],
                        [[c if i not in (2, 3) or c == "-" else f"{float(c):.1f}"
                          for i, c in enumerate(cells)] for cells in parity_table(report)],
                        text_columns=(0, 1)))
        con.print("[dim]equal: predictions equal, image by image (first: the first batch, "
                  "for latency-only models); diff = C++ - Python p50, inside the noise is no "
                  "difference.[/]")
    for note in report.notes:
        con.print(f"[dim]{escape(note)}[/]")
    for gate in report.gates:
        style = "bold green" if gate.passed else "bold red"
        word = "PASS" if gate.passed else "FAIL"
        con.print(f"[{style}]{word}[/] gate {gate.name} (threshold {gate.threshold:g}): "
                  f"{escape(gate.detail)}")
    con.print("Files:")
    for kind, path in report.files.items():
        con.print(f"  {kind:5s} {escape(path)}")


class StatusLine:
    """Progress on stderr: a spinner line for transient status (each measurement window)
    and a dim permanent line for each step; plain lines when stderr is not a terminal."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self.progress = None
        if self.console.is_terminal:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                     TimeElapsedColumn(), console=self.console, transient=True)
            self.task = self.progress.add_task("", total=None)

    def __enter__(self) -> "StatusLine":
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress:
            self.progress.stop()

    def __call__(self, text: str, transient: bool = False) -> None:
        from rich.markup import escape

        if not transient:
            self.console.print(f"[dim]{escape(text)}[/]")
        if self.progress:
            self.progress.update(self.task, description=escape(text))
