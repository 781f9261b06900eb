#!/usr/bin/env python3
"""The collector in an open-loop run (measure.sh gc): garbage per connection, the young pauses,
and how much of the connection time's tail falls near one.

    gc-tail.py GC_LOG TIMELINE RATE

GC_LOG is the JVM's -Xlog:gc with the timemillis decorator (a line is written as a pause ends);
TIMELINE the load tool's --timeline (a connection's due time in ns since the epoch, and how long
it took in ns); RATE the connections a second that were offered.
"""
import bisect
import re
import sys

NEAR_NS = 20_000_000  # a slow connection due within 20 ms of a pause's end counts as near it


def main(gc_log, timeline, rate):
    pauses = []  # (end in ns since the epoch, MB collected, duration in ms)
    for line in open(gc_log):
        m = re.match(r'\[(\d+)ms\].*Pause Young.* (\d+)M->(\d+)M.* ([\d.]+)ms', line)
        if m:
            pauses.append((int(m.group(1)) * 1_000_000, int(m.group(2)) - int(m.group(3)), float(m.group(4))))
    due = []
    for line in open(timeline):
        start, took = line.split()
        due.append((int(start), int(took)))
    if not due:
        sys.exit("no connection in the timeline")
    due.sort()
    first, last = due[0][0], due[-1][0]
    inside = [p for p in pauses if first <= p[0] <= last]
    times = sorted(took for _, took in due)
    n = len(times)
    p99 = times[int(n * 0.99)]
    ends = [p[0] for p in inside]

    def near(at):
        i = bisect.bisect_left(ends, at - NEAR_NS)
        return i < len(ends) and ends[i] <= at + NEAR_NS

    slow = [at for at, took in due if took > p99]
    near_slow = sum(1 for at in slow if near(at))
    if len(inside) > 1:
        span_s = (inside[-1][0] - inside[0][0]) / 1e9
        collected = sum(p[1] for p in inside[1:])
        garbage = f"garbage_bytes_per_conn={collected * 1048576 / span_s / rate:.0f} young_every_s={span_s / (len(inside) - 1):.2f}"
    else:
        garbage = "garbage_bytes_per_conn=? (fewer than two collections)"
    durations = [p[2] for p in inside]
    print(f"connections={n} p50_ms={times[n // 2] / 1e6:.2f} p99_ms={p99 / 1e6:.2f} "
          f"p999_ms={times[int(n * 0.999)] / 1e6:.2f} pauses={len(inside)} "
          f"pause_mean_ms={sum(durations) / max(1, len(durations)):.2f} pause_max_ms={max(durations, default=0):.2f} "
          f"{garbage} slow_near_pause={near_slow}/{len(slow)} "
          f"windows_cover_pct={100 * len(inside) * 2 * NEAR_NS / max(1, last - first):.1f}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
