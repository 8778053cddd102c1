"""Machine state per bench window: parsers on real captures, the busy rule, the sampler."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolchain.doctor.machine import (BusyRule, CpuSnapshot, GpuState, MachineReading,
                                     MachineSampler, busy_reasons, parse_cpufreq_mhz,
                                     parse_loadavg, parse_pid_stat, parse_proc_stat,
                                     parse_smi_q_state, parse_smi_query_state, reason_names,
                                     window_reading)

HOSTS = Path(__file__).parents[1] / "fixtures" / "hosts"
LINUX = Path("/proc/stat").exists()


# ---- parsers on real captures ------------------------------------------------------------

@pytest.mark.parametrize("host,name,sm,mem,power", [
    ("h100", "NVIDIA H100 80GB HBM3", 570.0, 2619.0, 74.86),
    ("h200", "NVIDIA H200", 345.0, 3201.0, 83.32)])
def test_smi_q_state_of_real_hosts(host, name, sm, mem, power):
    gpus = parse_smi_q_state((HOSTS / host / "nvidia-smi-q.txt").read_text())
    assert len(gpus) == 1
    g = gpus[0]
    assert (g.bus_id, g.name, g.persistence_mode, g.performance_state) == \
        ("00000000:00:06.0", name, "Enabled", "P0")
    assert (g.sm_clock_mhz, g.mem_clock_mhz, g.power_draw_w) == (sm, mem, power)
    # an idle GPU: "Idle" is the only active reason and it is no slowdown
    assert g.clock_event_reasons == ["Idle"] and g.slowdowns == []


def test_smi_query_state_of_a_real_h200():
    """The sampler's own query, captured on the H200 host."""
    (g,) = parse_smi_query_state((HOSTS / "h200" / "nvidia-smi-state.csv").read_text())
    assert (g.bus_id, g.name, g.persistence_mode, g.performance_state) == \
        ("00000000:00:06.0", "NVIDIA H200", "Enabled", "P0")
    assert (g.sm_clock_mhz, g.mem_clock_mhz, g.power_draw_w) == (345.0, 3201.0, 79.22)
    assert g.clock_event_reasons == ["Idle"] and g.slowdowns == []
    # the -q fallback (-d PERFORMANCE,POWER,CLOCK) captured a moment later agrees
    (q,) = parse_smi_q_state((HOSTS / "h200" / "nvidia-smi-q-d.txt").read_text())
    assert (q.sm_clock_mhz, q.mem_clock_mhz, q.clock_event_reasons) == (345.0, 3201.0, ["Idle"])


def test_reason_bits():
    assert reason_names("0x0000000000000000") == []
    assert reason_names("0x0000000000000044") == ["SW Power Cap", "HW Thermal Slowdown"]
    assert reason_names("0x1000") == ["0x1000"] and reason_names("N/A") == []


def test_smi_q_state_reads_a_slowdown():
    text = (HOSTS / "h200" / "nvidia-smi-q.txt").read_text().replace(
        "        SW Power Cap                                   : Not Active",
        "        SW Power Cap                                   : Active")
    g = parse_smi_q_state(text)[0]
    assert g.clock_event_reasons == ["Idle", "SW Power Cap"] and g.slowdowns == ["SW Power Cap"]


def test_proc_parsers_on_a_real_capture():
    lab = HOSTS / "lab-vm"
    before = parse_proc_stat((lab / "proc-stat-before.txt").read_text())
    after = parse_proc_stat((lab / "proc-stat-after.txt").read_text())
    first = (lab / "proc-stat-before.txt").read_text().splitlines()[0].split()
    assert before.total == sum(int(v) for v in first[1:9])
    assert before.idle == int(first[4]) + int(first[5]) and before.steal == int(first[8])
    # captured 1 s apart on a 2-core machine at 100 ticks/s
    assert 150 <= after.total - before.total <= 260
    load = parse_loadavg((lab / "proc-loadavg.txt").read_text())
    assert len(load) == 3 and all(v >= 0 for v in load)
    pid = (lab / "proc-pid-stat.txt").read_text()
    fields = pid[pid.rindex(")") + 2:].split()
    assert parse_pid_stat(pid) == sum(int(fields[i]) for i in range(11, 15))


def test_pid_stat_name_with_spaces_and_parentheses():
    text = "42 (my (odd) name) S 1 42 42 0 -1 4194304 10 0 0 0 7 3 2 1 20 0 1 0 5 0 0"
    assert parse_pid_stat(text) == 7 + 3 + 2 + 1


def test_cpufreq_khz_to_mhz():
    assert parse_cpufreq_mhz(["2450000\n", "", "1200000"]) == [2450.0, 1200.0]


# ---- the busy rule on readings (pure: robust wherever the tests run) ---------------------

def _snap(at, total, idle, steal, own):
    from toolchain.doctor.machine import CpuTimes
    return CpuSnapshot(at, CpuTimes(total, idle, steal), own)


def test_quiet_window_is_not_busy():
    # 1 s on 2 cores (200 ticks): we used 95, others 5, load below the cores
    r = window_reading(_snap(0, 0, 0, 0, 0), _snap(1, 200, 100, 0, 95), 2, (1.1, 1.0, 0.9),
                       [], [], BusyRule())
    assert (r.own_cores, r.other_cores, r.steal_share) == (0.95, 0.05, 0.0)
    assert not r.busy and r.reasons == []


def test_other_processes_steal_load_and_gpu_slowdown_make_a_window_busy():
    rule = BusyRule()
    other = window_reading(_snap(0, 0, 0, 0, 0), _snap(1, 200, 40, 0, 100), 2, None, [], [],
                           rule)
    assert other.other_cores == 0.6 and other.busy and "other processes" in other.reasons[0]
    steal = window_reading(_snap(0, 0, 0, 0, 0), _snap(1, 200, 80, 20, 100), 2, None, [], [],
                           rule)
    assert steal.steal_share == 0.1 and steal.other_cores == 0.0
    assert steal.reasons == ["CPU steal 10.0 % (limit 5 %)"]
    loaded = MachineReading(seconds=1, cores=2, load1=3.5)
    assert busy_reasons(loaded, rule) == ["load average 3.50 above 2 cores"]
    gpu = MachineReading(seconds=1, cores=2, gpus=[GpuState("0:6", clock_event_reasons=[
        "HW Thermal Slowdown"])])
    assert busy_reasons(gpu, rule) == ["GPU 0:6 slowed down: HW Thermal Slowdown"]


# ---- the sampler against real processes of a known share ---------------------------------

def _cpu_ticks(pid: int) -> int:
    return parse_pid_stat(Path(f"/proc/{pid}/stat").read_text())


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_sampler_marks_a_window_with_a_cpu_burner_busy():
    sampler = MachineSampler()
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)                     # the interpreter started
        start_ticks = _cpu_ticks(burner.pid)
        sampler.start()
        time.sleep(1.0)
        burned = _cpu_ticks(burner.pid) - start_ticks
        reading = sampler.stop()
    finally:
        burner.kill()
        burner.wait()
    share = burned / 100.0 / reading.seconds    # the burner's own account, in cores
    # every tick the burner used counts as another process's (other work may add more)
    assert share > 0.05 and reading.other_cores >= 0.8 * share
    # busy either way: the burner gets a core on a quiet machine, and where it gets less
    # the rest of that core went to other work, which counts the same
    assert reading.busy and any("other processes" in why for why in reading.reasons)


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_sampler_counts_a_waited_child_as_our_own():
    sampler = MachineSampler()
    sampler.start()
    child = subprocess.run([sys.executable, "-c",
                            "import time, os\nt = time.process_time()\n"
                            "while time.process_time() - t < 0.6: pass\n"
                            "print(sum(os.times()[:2]))"],
                           capture_output=True, text=True, check=True)
    reading = sampler.stop()
    child_s = float(child.stdout)
    # the child's CPU (like the C++ demo's) is ours once waited for, not "other processes"
    assert reading.own_cores * reading.seconds >= 0.8 * child_s
