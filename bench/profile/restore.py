#!/usr/bin/env python3
"""Restore benchmark: how long a restarted `kommune run` takes from its start to its keys' state restored and to its
first output, with realistic state for many sensors.

Broker, simulator and engine run as three processes (as in bench/profile/run.sh). One engine builds up state while
`kommune simulate` sends events until every sensor has had --passes events; it is stopped cleanly (SIGTERM); then a new
`kommune run` in the same group starts while the simulator keeps sending, and is measured. With --restarts N that stop
and start is repeated N times on the same state (each restart's engine is the next one stopped).

Measured, per restart, from the engine's own JSON log (EventIds 1005 partitions assigned, 3101 state restored,
3013 partitions taken, 1017 partition stalled), its /metrics (first processed event, polled every 50 ms; the consumer
lag every 0.5 s, for when it has caught up with the simulator, and its first alert and aggregate emitted; its pauses
for backpressure) and the output topics (the first alert or aggregate with a broker timestamp after the new process
started, read from the beginning with kcat once the restarted engine stops: the embedded broker does not look offsets up
by time, so the kcat -o s@<ms> polls used before 2026-12-07 found only records written while kcat ran). The state
topic's records (sum of its end offsets, kcat -Q) are checked against the records the engine says it restored: when
they are equal the broker dropped none (its mock keeps at most 5 MiB or 100,000 batches per partition).

Needs kcat. Usage:
  bench/profile/restore.py [--sensors 100000] [--areas 1000] [--rate 2000] [--passes 3] [--partitions 512]
                           [--restarts 2] [--out restore-out] [--metrics-port 9481] [--dynamic] [--no-build] [--ready-to-run]
"""
import argparse
import datetime
import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sensors", type=int, default=100_000)
    p.add_argument("--areas", type=int, default=1_000)
    p.add_argument("--rate", type=float, default=2_000)
    p.add_argument("--passes", type=int, default=3, help="events per sensor before the first stop")
    p.add_argument("--partitions", type=int, default=512, help="of every topic (the state topic's count is the engine's state partitions)")
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--after", type=float, default=20, help="seconds a restarted engine runs after its first output and its whole restore before it is stopped")
    p.add_argument("--out", default="restore-out")
    p.add_argument("--metrics-port", type=int, default=9481)
    p.add_argument("--trace", type=int, default=0, help="profile restart N from its start (dotnet-trace sampled thread time, 45 s) into <out>/restart-N.speedscope.json")
    p.add_argument("--dynamic", action="store_true",
                   help="engines join as dynamic members (StaticMembership=false): a stopped engine leaves the group, so the "
                        "next one is assigned at once, where the embedded broker keeps a static member that stopped until its "
                        "session (10 s) expires (docs/reliability.md, Restart time); a KIP-345 broker hands it back at once")
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--ready-to-run", action="store_true",
                   help="run the engine as published for a deployment (dotnet publish -r linux-x64: compiled ahead of time), "
                        "not the plain Release build")
    return p.parse_args()


def log(message):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", flush=True)


def wait_for(what, condition, timeout, interval=0.05):
    """Bounded polling: the condition's first truthy value, or an error after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout} s")


def metrics(port):
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def metric_sum(text, name):
    if text is None:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def log_events(path):
    events = []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return events


def at(event):
    return datetime.datetime.fromisoformat(event["Timestamp"].replace("Z", "+00:00")).timestamp()


def kcat(bootstrap, *args):
    return subprocess.run(["kcat", "-b", bootstrap, *args], capture_output=True, text=True, timeout=300).stdout


def end_offsets(bootstrap, topic, partitions):
    """Sum of the end offsets of a topic's partitions (records ever written, as nothing is compacted)."""
    args = []
    for p in range(partitions):
        args += ["-t", f"{topic}:{p}:-1"]
    out = kcat(bootstrap, "-Q", *args)
    return sum(int(m) for m in re.findall(r"offset (\d+)", out))


def first_output_after(bootstrap, topic, since):
    """(broker timestamp (s), what it was) of the earliest record of topic written at or after `since` (s), or None.
    Read from the beginning: the embedded broker does not look offsets up by time (kcat -o s@ starts at the end), so
    reading from a time found only what was written while kcat ran. What it was: an alert's rule, status, level and
    sequence, or an aggregate's kind (never a sensor's id)."""
    out = kcat(bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%T\t%s\n")
    first = None
    for line in out.splitlines():
        stamp, _, value = line.partition("\t")
        if stamp.isdigit() and int(stamp) >= since * 1000 and (first is None or int(stamp) < first[0]):
            first = (int(stamp), value)
    if first is None:
        return None
    try:
        record = json.loads(first[1])
        what = " ".join(str(record.get(k)) for k in ("rule", "status", "level", "sequence", "kind", "type") if k in record)
    except ValueError:
        what = "unreadable"
    return first[0] / 1000, f"{topic}: {what}"


class Engine:
    def __init__(self, dll, bootstrap, out, name, port, dynamic):
        self.log = os.path.join(out, f"{name}.log")
        self.port = port
        self.started = time.time()
        env = dict(os.environ, KOMMUNE_StaticMembership="false") if dynamic else None
        self.proc = subprocess.Popen(
            ["dotnet", dll, "run", "-b", bootstrap, "--rules", os.path.join(REPO, "src/Engine/demo-rules.json"),
             "--metrics-port", str(port)],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT, env=env)

    def processed(self):
        return metric_sum(metrics(self.port), "kommune_events_processed_total")

    def stop(self, timeout=180):
        started = time.time()
        self.proc.send_signal(signal.SIGTERM)  # a background process ignores SIGINT
        self.proc.wait(timeout)
        return time.time() - started


def main():
    a = parse_args()
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    if not a.no_build:
        build = ["publish", "-r", "linux-x64", "--self-contained", "false"] if a.ready_to_run else ["build"]
        subprocess.run(["dotnet", *build, "-c", "Release", os.path.join(REPO, "src/Engine")], check=True, stdout=subprocess.DEVNULL)
    dll = os.path.join(REPO, "src/Engine/bin/Release/net10.0", *(["linux-x64", "publish"] if a.ready_to_run else []), "kommune.dll")
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    log(f"commit {commit}; uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")

    bsfile = os.path.join(out, "bs")
    if os.path.exists(bsfile):
        os.remove(bsfile)
    broker = subprocess.Popen(["dotnet", dll, "broker", "--partitions", str(a.partitions), "--bootstrap-file", bsfile],
                              stdout=open(os.path.join(out, "broker.log"), "w"), stderr=subprocess.STDOUT)
    sim = None
    engine = None
    results = []
    try:
        wait_for("broker", lambda: os.path.exists(bsfile) and os.path.getsize(bsfile) > 0, 60)
        bootstrap = open(bsfile).read().strip()
        engine = Engine(dll, bootstrap, out, "engine-0", a.metrics_port, a.dynamic)
        wait_for("first engine's /metrics", lambda: engine.processed() is not None, 120)
        wait_for("first engine's partitions", lambda: any(e.get("EventId") == 3013 for e in log_events(engine.log)), 120)
        sim = subprocess.Popen(["dotnet", dll, "simulate", "-b", bootstrap, "--sensors", str(a.sensors), "--areas", str(a.areas),
                                "--rate", str(a.rate), "--count", str(10**12)],
                               stdout=open(os.path.join(out, "sim.log"), "w"), stderr=subprocess.STDOUT)
        target = a.passes * a.sensors
        build_started = time.time()
        log(f"building state: {a.passes} events per sensor ({target:,} events) at {a.rate:,.0f}/s")
        last = 0

        def built():
            nonlocal last
            n = engine.processed() or 0
            if n - last >= 50_000:
                last = n
                lag = metric_sum(metrics(a.metrics_port), "kommune_consumer_lag_records")
                log(f"  processed {n:,.0f}, consumer lag {lag:,.0f} records")
            return n >= target

        wait_for("state build-up", built, 3600, interval=1)
        log(f"built in {time.time() - build_started:.0f} s")

        for restart in range(1, a.restarts + 1):
            took = engine.stop()
            log(f"engine-{restart - 1} stopped (SIGTERM) in {took:.1f} s")
            state_records = end_offsets(bootstrap, "kommune.state", a.partitions)
            engine = Engine(dll, bootstrap, out, f"engine-{restart}", a.metrics_port, a.dynamic)
            t0 = engine.started
            tracer = None
            if restart == a.trace:
                # Attached as soon as the runtime's diagnostics socket exists: well before the group assigns partitions.
                wait_for("diagnostics socket", lambda: glob.glob(f"/tmp/dotnet-diagnostic-{engine.proc.pid}-*"), 30, interval=0.02)
                trace = os.path.join(out, f"restart-{restart}.nettrace")
                tracer = subprocess.Popen([os.environ.get("DOTNET_TRACE", os.path.expanduser("~/.dotnet/tools/dotnet-trace")), "collect", "-p", str(engine.proc.pid),
                                           "--profile", "dotnet-sampled-thread-time", "--duration", "00:00:00:45", "-o", trace],
                                          stdout=open(os.path.join(out, "trace.log"), "w"), stderr=subprocess.STDOUT)
            # The restarted engine's consumer lag (records not yet taken, summed over its partitions), sampled every
            # half second from its start until it is stopped: how long it takes to catch up with the simulator.
            lag_samples = []
            sampling = threading.Event()

            def sample_lag(port=a.metrics_port, samples=lag_samples, stop=sampling):
                while not stop.wait(0.5):
                    text = metrics(port)
                    lag = metric_sum(text, "kommune_consumer_lag_records")
                    if lag is not None:
                        samples.append((time.time(), {"lag": lag, "alert": metric_sum(text, "kommune_alerts_emitted_total"),
                                                      "aggregate": metric_sum(text, "kommune_aggregates_emitted_total")}))

            sampler = threading.Thread(target=sample_lag, daemon=True)
            sampler.start()
            first_processed = wait_for("first processed event", lambda: (engine.processed() or 0) > 0 and time.time(), 600)
            # Emitted (handed to the producer) by the engine's own count; when the broker had it is read from the topics below.
            wait_for("first output", lambda: (metric_sum(metrics(a.metrics_port), "kommune_alerts_emitted_total") or 0)
                     + (metric_sum(metrics(a.metrics_port), "kommune_aggregates_emitted_total") or 0) > 0, 600, interval=0.2)
            # The first partitions are read once their own state is restored, before the rest is: wait for the whole restore.
            wait_for("state restored", lambda: any(e.get("EventId") == 3101 for e in log_events(engine.log)), 300, interval=0.2)
            time.sleep(a.after)  # keeps the restarted engine running (and writing state) before it is stopped in turn
            sampling.set()
            sampler.join()
            pauses = metric_sum(metrics(a.metrics_port), "kommune_consumer_pauses_total")
            if tracer is not None:
                tracer.wait(120)
                subprocess.run([os.environ.get("DOTNET_TRACE", os.path.expanduser("~/.dotnet/tools/dotnet-trace")), "convert", trace, "--format", "speedscope",
                                "-o", trace.replace(".nettrace", "")], stdout=subprocess.DEVNULL, check=False)
            firsts = [f for f in (first_output_after(bootstrap, topic, t0) for topic in ("kommune.alerts", "kommune.aggregates")) if f]
            first_output, first_output_was = min(firsts) if firsts else (None, None)
            events = log_events(engine.log)
            assigned = [at(e) for e in events if e.get("EventId") == 1005 and e["State"].get("Topic") == "kommune.sensor-events"]
            restored = [e for e in events if e.get("EventId") == 3101]
            taken = [at(e) for e in events if e.get("EventId") == 3013 and e["State"].get("What") == "taken"]
            r = {
                "restart": restart,
                "state_records_in_topic": state_records,
                "records_restored": sum(e["State"]["Records"] for e in restored),
                "keys_restored": sum(e["State"]["Keys"] for e in restored),
                "restore_ms_logged": round(sum(e["State"]["Milliseconds"] for e in restored)),
                "start_to_assigned_s": round(assigned[0] - t0, 2) if assigned else None,
                "start_to_restored_s": round(at(restored[-1]) - t0, 2) if restored else None,
                "start_to_taken_s": round(taken[-1] - t0, 2) if taken else None,
                "start_to_first_processed_s": round(first_processed - t0, 2),
                "start_to_first_output_s": round(first_output - t0, 2) if first_output else None,
                "assigned_to_restored_s": round(at(restored[-1]) - assigned[0], 2) if assigned and restored else None,
                "assigned_to_first_output_s": round(first_output - assigned[0], 2) if assigned and first_output else None,
                "first_output_was": first_output_was,
            }
            r["dropped_by_broker"] = r["state_records_in_topic"] - r["records_restored"]
            for kind in ("alert", "aggregate"):
                emitted = [t for t, sample in lag_samples if (sample.get(kind) or 0) > 0]
                r[f"start_to_first_{kind}_emitted_s"] = round(emitted[0] - t0, 1) if emitted else None
            # Caught up: the lag first under one second of the simulator's rate once something was processed, and from
            # then on; the most it was; how often the consumer paused for backpressure; partitions logged stalled (1017).
            after_first = [(t, sample["lag"]) for t, sample in lag_samples if t >= first_processed]
            behind = [t for t, lag in after_first if lag > a.rate]
            r["start_to_caught_up_s"] = (round(max(behind) - t0 + 0.5, 1) if behind else round(first_processed - t0, 1)) \
                if after_first and after_first[-1][1] <= a.rate else None  # None: still behind when stopped
            r["lag_most_records"] = round(max((sample["lag"] for _, sample in lag_samples), default=0))
            r["pauses"] = round(pauses) if pauses is not None else None
            r["stalled_partitions_logged"] = sum(1 for e in events if e.get("EventId") == 1017)
            results.append(r)
            log(json.dumps(r))
    finally:
        if engine is not None and engine.proc.poll() is None:
            engine.stop()
        if sim is not None:
            sim.send_signal(signal.SIGTERM)
            sim.wait(60)
        broker.send_signal(signal.SIGTERM)
        broker.wait(60)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"commit": commit, "args": vars(a), "results": results}, f, indent=1)
    log(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    sys.exit(main())
