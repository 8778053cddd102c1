"""The machine's state over one measurement window, and whether it was too busy to trust.

Pure parsers (text in, numbers out) for /proc/stat, /proc/loadavg, /proc/<pid>/stat,
cpufreq and nvidia-smi (the query CSV, and `-q` where a driver rejects a query field); the busy rule on a reading; then MachineSampler, the
edge that reads those sources at the start and at the end of a window.

Busy rule (BusyRule): a window is busy when, averaged over the window,
- other processes (everything but this process and the children it waited for,
  e.g. the C++ demo) used more than 0.25 of a core, or
- the hypervisor stole more than 5 % of the CPU time, or
- the 1-minute load average was above the machine's cores (it lags: a burst that
  ended seconds ago still counts, which errs on the side of saying "busy"), or
- a GPU reported a slowdown (power cap, thermal or hardware slowdown).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..results import JsonResult


# ------------------------------------------------------------------ pure parsers

@dataclass(frozen=True)
class CpuTimes:
    """The aggregate line of /proc/stat, in clock ticks summed over every CPU."""

    total: int      # user nice system idle iowait irq softirq steal (guest is inside user)
    idle: int       # idle + iowait
    steal: int


def parse_proc_stat(text: str) -> CpuTimes:
    for line in text.splitlines():
        if line.startswith("cpu "):
            ticks = [int(v) for v in line.split()[1:9]]
            ticks += [0] * (8 - len(ticks))
            return CpuTimes(total=sum(ticks), idle=ticks[3] + ticks[4], steal=ticks[7])
    raise ValueError("no aggregate 'cpu ' line in /proc/stat")


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """/proc/loadavg -> the 1, 5 and 15 minute load averages."""
    parts = text.split()
    return float(parts[0]), float(parts[1]), float(parts[2])


def parse_pid_stat(text: str) -> int:
    """/proc/<pid>/stat -> clock ticks of the process and its waited-for children
    (utime + stime + cutime + cstime). The name in parentheses may hold spaces."""
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is the state (field 3 of proc(5)); utime is field 14
    return sum(int(fields[i]) for i in range(11, 15))


def parse_cpufreq_mhz(texts: list[str]) -> list[float]:
    """scaling_cur_freq files (kHz) -> MHz; unreadable or empty entries skipped."""
    out = []
    for text in texts:
        text = text.strip()
        if text.isdigit():
            out.append(int(text) / 1000.0)
    return out


@dataclass
class GpuState(JsonResult):
    """One GPU's clocks and limits at one moment (fields of `nvidia-smi -q`)."""

    bus_id: str
    name: str | None = None
    persistence_mode: str | None = None      # "Enabled" | "Disabled"
    performance_state: str | None = None     # "P0" ...
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    power_draw_w: float | None = None        # instantaneous, else the average
    clock_event_reasons: list[str] = field(default_factory=list)   # the active ones

    @property
    def slowdowns(self) -> list[str]:
        """Active reasons that lower the clocks under load (idle and settings are not)."""
        return [r for r in self.clock_event_reasons
                if "Slowdown" in r or "Power Cap" in r or "Power Brake" in r]


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
# nvidia-smi before 535 called the clock event reasons "Clocks Throttle Reasons"
_REASON_SECTIONS = ("Clocks Event Reasons", "Clocks Throttle Reasons")


def _number(value: str) -> float | None:
    m = _NUMBER.search(value)
    return float(m.group()) if m and "N/A" not in value else None


# The query the sampler asks (nvidia-smi names the columns by their current aliases:
# clocks.sm -> clocks.current.sm, clocks_throttle_reasons -> clocks_event_reasons).
SMI_STATE_FIELDS = ("pci.bus_id,name,clocks.sm,clocks.mem,clocks_throttle_reasons.active,"
                    "power.draw,persistence_mode,pstate")
# The bits of clocks_event_reasons.active (NVML's nvmlClocksEventReason*), named as -q names them
REASON_BITS = {0x1: "Idle", 0x2: "Applications Clocks Setting", 0x4: "SW Power Cap",
               0x8: "HW Slowdown", 0x10: "Sync Boost", 0x20: "SW Thermal Slowdown",
               0x40: "HW Thermal Slowdown", 0x80: "HW Power Brake Slowdown",
               0x100: "Display Clock Setting"}


def reason_names(mask: str) -> list[str]:
    """'0x0000000000000005' -> ['Idle', 'SW Power Cap'] (unknown bits by their value)."""
    try:
        value = int(mask, 16)
    except ValueError:
        return []
    names = [name for bit, name in REASON_BITS.items() if value & bit]
    rest = value & ~sum(REASON_BITS)
    return names + ([f"0x{rest:x}"] if rest else [])


def parse_smi_query_state(text: str) -> list[GpuState]:
    """`nvidia-smi --query-gpu=SMI_STATE_FIELDS --format=csv` -> one GpuState per GPU.

    Columns are found by their header (units in brackets dropped), so the order and
    either name of the clock fields work."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or "," not in lines[0]:
        return []
    head = [h.split("[")[0].strip() for h in lines[0].split(",")]
    gpus = []
    for line in lines[1:]:
        cells = dict(zip(head, (c.strip() for c in line.split(","))))
        if len(cells) != len(head):
            continue
        reasons = cells.get("clocks_event_reasons.active", cells.get(
            "clocks_throttle_reasons.active", ""))
        gpus.append(GpuState(
            bus_id=cells.get("pci.bus_id", cells.get("index", "?")), name=cells.get("name"),
            persistence_mode=cells.get("persistence_mode"), performance_state=cells.get("pstate"),
            sm_clock_mhz=_number(cells.get("clocks.current.sm", cells.get("clocks.sm", ""))),
            mem_clock_mhz=_number(cells.get("clocks.current.memory",
                                            cells.get("clocks.mem", ""))),
            power_draw_w=_number(cells.get("power.draw", "")),
            clock_event_reasons=reason_names(reasons)))
    return gpus


def parse_smi_q_state(text: str) -> list[GpuState]:
    """`nvidia-smi -q` -> the state of every GPU it lists.

    The output is an indented outline: "GPU <bus id>" at column 0, sections at 4
    spaces, their fields at 8 (and deeper for sub-fields).
    """
    gpus: list[GpuState] = []
    gpu: GpuState | None = None
    section = ""
    for line in text.splitlines():
        if line.startswith("GPU "):
            gpu = GpuState(bus_id=line[4:].strip())
            gpus.append(gpu)
            section = ""
            continue
        if gpu is None or not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, _, value = line.strip().partition(":")
        key, value = key.strip(), value.strip()
        if indent == 4:
            section = key
            if key == "Product Name":
                gpu.name = value
            elif key == "Persistence Mode":
                gpu.persistence_mode = value
            elif key == "Performance State":
                gpu.performance_state = value
        elif section in _REASON_SECTIONS and value == "Active":
            gpu.clock_event_reasons.append(key)
        elif section == "Clocks" and key == "SM":
            gpu.sm_clock_mhz = _number(value)
        elif section == "Clocks" and key == "Memory":
            gpu.mem_clock_mhz = _number(value)
        elif section in ("GPU Power Readings", "Power Readings") and indent == 8:
            if key == "Instantaneous Power Draw" and _number(value) is not None:
                gpu.power_draw_w = _number(value)
            elif key in ("Average Power Draw", "Power Draw") and gpu.power_draw_w is None:
                gpu.power_draw_w = _number(value)
    return gpus


# ------------------------------------------------------------------ the reading and the rule

@dataclass(frozen=True)
class BusyRule(JsonResult):
    other_cores: float = 0.25     # other processes' CPU, in cores, averaged over the window
    steal_share: float = 0.05     # of all CPU time
    load_per_core: float = 1.0    # 1-minute load average per core of the machine


@dataclass
class MachineReading(JsonResult):
    """The machine over one window; busy + reasons by BusyRule."""

    seconds: float
    cores: int
    load1: float | None = None
    load5: float | None = None
    own_cores: float | None = None     # this process and its waited-for children
    other_cores: float | None = None   # every other process
    steal_share: float | None = None
    cpu_mhz: list[float] = field(default_factory=list)   # min, mean, max; empty: not readable
    gpus: list[GpuState] = field(default_factory=list)
    busy: bool = False
    reasons: list[str] = field(default_factory=list)


def busy_reasons(reading: MachineReading, rule: BusyRule) -> list[str]:
    """Why the window's numbers are not those of a quiet machine (empty: quiet)."""
    out = []
    if reading.other_cores is not None and reading.other_cores > rule.other_cores:
        out.append(f"other processes used {reading.other_cores:.2f} cores "
                   f"(limit {rule.other_cores:g})")
    if reading.steal_share is not None and reading.steal_share > rule.steal_share:
        out.append(f"CPU steal {reading.steal_share * 100:.1f} % "
                   f"(limit {rule.steal_share * 100:g} %)")
    if reading.load1 is not None and reading.load1 > rule.load_per_core * reading.cores:
        out.append(f"load average {reading.load1:.2f} above {reading.cores} cores")
    for gpu in reading.gpus:
        if gpu.slowdowns:
            out.append(f"GPU {gpu.bus_id} slowed down: {', '.join(gpu.slowdowns)}")
    return out


@dataclass(frozen=True)
class CpuSnapshot:
    at: float          # seconds, monotonic
    cpu: CpuTimes
    own_ticks: int


def window_reading(before: CpuSnapshot, after: CpuSnapshot, cores: int,
                   load: tuple[float, float, float] | None, cpu_mhz: list[float],
                   gpus: list[GpuState], rule: BusyRule) -> MachineReading:
    """The reading of the window between two snapshots (pure)."""
    total = after.cpu.total - before.cpu.total
    reading = MachineReading(seconds=round(after.at - before.at, 3), cores=cores, gpus=gpus,
                             cpu_mhz=[round(f, 0) for f in (
                                 min(cpu_mhz), sum(cpu_mhz) / len(cpu_mhz), max(cpu_mhz))]
                             if cpu_mhz else [])
    if load is not None:
        reading.load1, reading.load5 = load[0], load[1]
    if total > 0:
        per_core = total / cores           # ticks one core had in the window
        busy = total - (after.cpu.idle - before.cpu.idle) - (after.cpu.steal - before.cpu.steal)
        own = max(0, after.own_ticks - before.own_ticks)
        reading.own_cores = round(own / per_core, 3)
        reading.other_cores = round(max(0, busy - own) / per_core, 3)
        reading.steal_share = round((after.cpu.steal - before.cpu.steal) / total, 4)
    return judged(reading, rule)


def judged(reading: MachineReading, rule: BusyRule) -> MachineReading:
    reading.reasons = busy_reasons(reading, rule)
    reading.busy = bool(reading.reasons)
    return reading


# ------------------------------------------------------------------ the edge

def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


class MachineSampler:
    """Reads the machine at the start (`start()`) and end (`stop()`) of a window.

    Where /proc is not readable (not Linux) the reading holds only what could be read.
    `gpu=True` adds nvidia-smi's clocks, reasons, power and persistence at the end of each
    window.
    """

    def __init__(self, gpu: bool = False, rule: BusyRule = BusyRule(),
                 proc: Path = Path("/proc"), sys: Path = Path("/sys"),
                 clock: Callable[[], float] = time.monotonic, smi_timeout_s: float = 10.0):
        self.gpu, self.rule, self.proc, self.sys = gpu, rule, Path(proc), Path(sys)
        self.clock, self.smi_timeout_s = clock, smi_timeout_s
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
        self._before: CpuSnapshot | None = None

    def snapshot(self) -> CpuSnapshot | None:
        stat, own = _read(self.proc / "stat"), _read(self.proc / str(os.getpid()) / "stat")
        if stat is None or own is None:
            return None
        return CpuSnapshot(self.clock(), parse_proc_stat(stat), parse_pid_stat(own))

    def start(self) -> None:
        self._before = self.snapshot()

    def stop(self) -> MachineReading:
        after = self.snapshot()
        load_text = _read(self.proc / "loadavg")
        load = parse_loadavg(load_text) if load_text else None
        freqs = parse_cpufreq_mhz([_read(p) or "" for p in sorted(
            (self.sys / "devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_cur_freq"))])
        gpus = self.gpu_states() if self.gpu else []
        before, self._before = self._before, None
        if before is None or after is None:
            reading = MachineReading(seconds=0.0, cores=self.cores, gpus=gpus, cpu_mhz=[])
            if load is not None:
                reading.load1, reading.load5 = load[0], load[1]
            return judged(reading, self.rule)
        return window_reading(before, after, self.cores, load, freqs, gpus, self.rule)

    def gpu_states(self) -> list[GpuState]:
        """The query fields; `nvidia-smi -q` where a driver rejects one of them."""
        for argv, parse in ((["nvidia-smi", f"--query-gpu={SMI_STATE_FIELDS}", "--format=csv"],
                             parse_smi_query_state),
                            (["nvidia-smi", "-q", "-d", "PERFORMANCE,POWER,CLOCK"],
                             parse_smi_q_state)):
            try:
                proc = subprocess.run(argv, capture_output=True, text=True,
                                      timeout=self.smi_timeout_s, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                return []
            gpus = parse(proc.stdout) if proc.returncode == 0 else []
            if gpus:
                return gpus
        return []


# ------------------------------------------------------------------ the machine's own speed

SPEED_PROBE = ("float32 multiply, sqrt and add over two 4 MB arrays x8 (numpy, one thread), "
               "best of 5, ms")


def speed_probe_ms(repeats: int = 5) -> float:
    """A fixed piece of CPU work, timed: what this machine does in the same few ms today.

    A shared VM can slow down or speed up as a whole (its neighbours on the host) with no
    steal, load or other process to show for it; this number moves with it. Vector
    arithmetic over arrays larger than L2, in one thread (numpy's ufuncs start no thread
    pool that could still be spinning when the first window starts). Best of `repeats`,
    so a single preemption does not count.
    """
    import numpy as np

    a = np.ones(1 << 20, np.float32)
    b = np.ones(1 << 20, np.float32)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(8):
            np.multiply(a, b, out=a)
            np.sqrt(a, out=a)
            np.add(a, b, out=a)
        best = min(best, time.perf_counter() - t0)
    return best * 1000.0
