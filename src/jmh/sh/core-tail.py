#!/usr/bin/env python3
"""What else ran on the proxy's core while its slowest connections waited (measure.sh tail).

    core-tail.py SCRIPT OFFSET_NS TIMELINE

SCRIPT is `perf script` of a `perf sched record -k CLOCK_MONOTONIC -C CPU` taken on the proxy's
core. A thread's run on the core ends at its `sched_switch` away, and lasts what the scheduler's
`sched_stat_runtime` events charged it since its last one: not from the switch to it, because on
this kernel a switch away from the idle task is never recorded, so a run that began on an idle
core has no start (`perf sched timehist` counts the idle time before it as run time). OFFSET_NS is
CLOCK_REALTIME minus CLOCK_MONOTONIC in ns, read while recording; TIMELINE the load tool's
--timeline (a connection's due time in ns since the epoch, and how long it took in ns).

For the connections at or above the p99 and for as many taken at random, each connection is laid
over the other threads' runs on the core (every thread but the event loops, whose names start
with the prefix below) and put down to the one that ran longest during it, if that was at least
BLAME_NS; otherwise to "(none)". A thread that ran during the slow ones far more often than during
the random ones is part of the tail. Printed per thread: its CPU in ms per second on the core, how
many slow and random connections it is put down to, and its mean run time during a slow one.
"""
import bisect
import collections
import random
import re
import sys

LOOP_PREFIX = "multiThreadIoEv"  # Netty's event-loop threads, as the kernel's 15-character comm cuts them
BLAME_NS = 100_000
TIME = re.compile(r"\[\d+\]\s+(\d+\.\d+):")
RUNTIME = re.compile(r"sched_stat_runtime: comm=(.*) pid=(\d+) runtime=(\d+)")
SWITCH = re.compile(r"sched_switch: prev_comm=(.*) prev_pid=(\d+) prev_prio")


def runs_by_thread(script):
    """Each thread's runs on the core as (start, end) in monotonic ns, by thread name."""
    runs = collections.defaultdict(list)
    charged = collections.Counter()  # ns charged to a thread since its last switch away
    for line in open(script):
        m = RUNTIME.search(line)
        if m:
            charged[int(m.group(2))] += int(m.group(3))
            continue
        m = SWITCH.search(line)
        if m and int(m.group(2)) != 0:
            pid = int(m.group(2))
            end = round(float(TIME.search(line).group(1)) * 1e6) * 1000
            if charged[pid]:
                runs[m.group(1)].append((end - charged[pid], end))
            charged[pid] = 0
    return {name: sorted(v) for name, v in runs.items()}


def ran_during(runs, starts, a, b):
    i = max(0, bisect.bisect_left(starts, a) - 1)
    total = 0
    while i < len(runs) and runs[i][0] < b:
        total += max(0, min(runs[i][1], b) - max(runs[i][0], a))
        i += 1
    return total


def main(script, offset_file, timeline):
    runs = runs_by_thread(script)
    if not runs:
        sys.exit("no scheduler switches in " + script)
    offset = int(open(offset_file).read())
    first = min(v[0][0] for v in runs.values())
    last = max(v[-1][1] for v in runs.values())
    conns = []
    for line in open(timeline):
        due, took = map(int, line.split())
        due -= offset
        if first <= due and due + took <= last:
            conns.append((due, took))
    if len(conns) < 100:
        sys.exit(f"only {len(conns)} connections inside the trace")
    conns.sort(key=lambda c: c[1])
    p99 = conns[int(len(conns) * 0.99)][1]
    others = {n: v for n, v in runs.items() if not n.startswith(LOOP_PREFIX)}
    starts = {n: [s for s, _ in v] for n, v in others.items()}

    def blame(group):
        who, overlap = collections.Counter(), collections.Counter()
        for due, took in group:
            best, most = "(none)", BLAME_NS - 1
            for name, v in others.items():
                ran = ran_during(v, starts[name], due, due + took)
                overlap[name] += ran
                if ran > most:
                    best, most = name, ran
            who[best] += 1
        return who, overlap

    slow = [c for c in conns if c[1] >= p99]
    random.seed(1)
    sample = random.sample(conns, len(slow))
    slow_who, slow_overlap = blame(slow)
    sample_who, _ = blame(sample)
    window = (min(d for d, _ in conns), max(d + t for d, t in conns))
    span_s = (window[1] - window[0]) / 1e9
    loops_ms = sum(ran_during(v, [r[0] for r in v], *window) for n, v in runs.items() if n.startswith(LOOP_PREFIX))
    print(f"connections={len(conns)} p99_ms={p99 / 1e6:.2f} slow={len(slow)} measured_s={span_s:.1f} "
          f"event_loops_cpu_pct={loops_ms / 1e7 / span_s:.0f}")
    print(f"{'thread on the core':24} {'cpu ms/s':>9} {'slow':>6} {'random':>7} {'us in a slow one':>17}")
    names = sorted(set(slow_who) | set(sample_who), key=lambda n: (-slow_who[n], n))
    for name in names:
        cpu = ran_during(others[name], starts[name], *window) / 1e6 / span_s if name in others else 0
        print(f"{name:24} {cpu:9.2f} {slow_who[name]:6} {sample_who[name]:7} "
              f"{slow_overlap[name] / 1000 / len(slow):17.1f}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
