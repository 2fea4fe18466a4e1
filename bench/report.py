"""Turn one bench/run result directory into the markdown table of BENCHMARKS.md.

Usage: python bench/report.py bench/results/<run>   (bench/run calls it; prints markdown)

Reads the wrk summaries (<workload>-<side>.json, written by bench/wrk/workload.lua), the peak RSS
files (rss-<side>.kib), the extraction timings (p5-ours.json, p5-msmint.json) and run.json
(settings and build/bench times from bench/run). Needs only the standard library.
"""

import json
import math
import os
import platform
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

GOAL_THROUGHPUT = 20.0  # ours / Python, P1 and P2
GOAL_AREA_REL = 0.001  # 0.1 %


def load(run: Path, name: str) -> dict:
    return json.loads((run / f"{name}.json").read_text())


def load_rounds(run: Path, name: str, count: int | None) -> dict:
    """One side's P1 as one summary: its `count` rounds (NAME.round<i>.json) added up, or
    NAME.json from runs before the rounds (no count). Counts and durations are summed; a latency
    percentile is the median of the rounds' (wrk keeps no histogram to merge), the maximum the
    largest."""
    if count is None:
        return load(run, name)
    rounds = [run / f"{name}.round{i}.json" for i in range(1, count + 1)]
    parts = [json.loads(p.read_text()) for p in rounds]
    cpu_files = [p.with_suffix(".cpu") for p in rounds]
    lat = {k: statistics.median(p["latency_us"][k] for p in parts)
           for k in ("mean", "p50", "p90", "p99")}
    lat["max"] = max(p["latency_us"]["max"] for p in parts)
    return {
        "requests": sum(p["requests"] for p in parts),
        "duration_us": sum(p["duration_us"] for p in parts),
        "bytes": sum(p["bytes"] for p in parts),
        "errors": {k: sum(p["errors"][k] for p in parts) for k in parts[0]["errors"]},
        "latency_us": lat,
        "rounds": [ok_per_second(p) for p in parts],
        # The server's user + system CPU over the measured rounds (clock ticks), when recorded.
        "cpu_ticks": (sum(int(c.read_text()) for c in cpu_files)
                      if all(c.exists() for c in cpu_files) else None),
    }


def cpu_us_per_request(w: dict, ticks_per_second: int) -> float | None:
    """The server's CPU time per answered request (µs): what a request costs the server itself,
    however much CPU the host gave it during the run."""
    if w.get("cpu_ticks") is None or not w["requests"]:
        return None
    return w["cpu_ticks"] / ticks_per_second * 1e6 / w["requests"]


def ok_per_second(w: dict) -> float:
    """Responses with a 2xx/3xx status per second (wrk counts others in errors.status)."""
    return (w["requests"] - w["errors"]["status"]) / (w["duration_us"] / 1e6)


def failures(w: dict) -> int:
    return sum(w["errors"].values())


def ms(us: float) -> str:
    v = us / 1000
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def rate(v: float) -> str:
    return f"{v:,.0f}"


def times(v: float) -> str:
    if not math.isfinite(v):
        return "—"
    return f"{v:.2f}×" if v < 10 else f"{v:.1f}×" if v < 100 else f"{v:.0f}×"


def goal(met: bool, text: str) -> str:
    return f"{text}: {'met' if met else '**not met**'}"


def pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def msmint_versions(python: str) -> str:
    code = (
        "from importlib.metadata import version as v; "
        "print(', '.join(f'{p} {v(p)}' for p in ('ms-mint', 'pandas', 'numpy', 'pyteomics')))"
    )
    try:
        return subprocess.run(
            [python, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def first_line(*cmd: str) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        return (out.strip().splitlines() or ["?"])[0]
    except OSError:
        return "?"


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = next(int(l.split()[1]) for l in f if l.startswith("MemTotal"))
    return f"{cpu}, {os.cpu_count()} CPUs, {mem_kib / 2**20:.0f} GiB RAM, Linux {platform.release()}"


def area_diff(ours: dict, theirs: dict) -> tuple[float, str]:
    """Largest |ours − ms-mint| / |ms-mint| of peak_area over the targets, and its label."""
    by_label = {r["peak_label"]: r["peak_area"] for r in theirs["results"]}
    worst, worst_label = 0.0, "-"
    for r in ours["results"]:
        ref = by_label.get(r["peak_label"])
        if ref is None:
            return math.inf, f"{r['peak_label']} (missing in ms-mint)"
        diff = abs(r["peak_area"] - ref)
        rel = 0.0 if diff == 0 else diff / abs(ref) if ref else math.inf
        if rel > worst or worst_label == "-":
            worst, worst_label = rel, r["peak_label"]
    if len(by_label) != len(ours["results"]):
        return math.inf, "target count differs"
    return worst, worst_label


def main() -> None:
    run = Path(sys.argv[1])
    cfg = load(run, "run")
    servers = ["ours", "python", "axum"] + (["platform"] if cfg.get("platform") else [])
    # Since the platform got its own alternating rounds (`platform_rounds`), it is not in P1.
    pf_rounds = cfg.get("platform_rounds")
    p1_servers = [s for s in servers if not (s == "platform" and pf_rounds)]
    # A throughput verdict needs the run lengths of the method; shorter runs only indicate.
    p1_seconds = cfg.get("p1_seconds", cfg["seconds"])
    full_length = p1_seconds >= 20 and cfg["seconds"] >= 10

    def verdict(ok: bool, text: str) -> str:
        if not full_length:
            return f"{text}: indicative ({'above' if ok else 'below'}; short run)"
        return goal(ok, text)

    p1 = {s: load_rounds(run, f"p1-{s}", cfg.get("p1_rounds")) for s in p1_servers}
    # The platform against bare axum: its own rounds, or (older runs) P1's.
    pf = ({s: load_rounds(run, f"pf-{s}", pf_rounds) for s in ("axum", "platform")} if pf_rounds
          else {s: p1[s] for s in ("axum", "platform") if s in p1})
    p2 = {s: load(run, f"p2-{s}") for s in ("ours", "python")}
    p2c1 = {s: load(run, f"p2c1-{s}") for s in ("ours", "python")}
    an = load(run, "analysis-ours")
    rss = {s: int((run / f"rss-{s}.kib").read_text()) for s in servers}
    p5 = {"ours": load(run, "p5-ours"), "msmint": load(run, "p5-msmint")}

    py = f"Python mint-sdk {pkg('mint-sdk')}"
    rows: list[tuple[str, ...]] = []

    def throughput(label, ours, theirs, who, goal_text=""):
        r = ok_per_second(ours) / ok_per_second(theirs)
        g = verdict(r >= GOAL_THROUGHPUT, goal_text) if goal_text else ""
        rows.append((label, rate(ok_per_second(ours)), who, rate(ok_per_second(theirs)), times(r), g))

    def latency(label, ours, theirs, who, pct):
        a, b = ours["latency_us"][pct], theirs["latency_us"][pct]
        rows.append((label, ms(a), who, ms(b), times(b / a) if a else "—", ""))

    conns, dbc = cfg["connections"], cfg["db_connections"]
    throughput(f"P1 trivial JSON, {conns} conn.: requests/s", p1["ours"], p1["python"], py,
               f"≥ {GOAL_THROUGHPUT:.0f}×")
    latency("P1 latency p50 (ms)", p1["ours"], p1["python"], py, "p50")
    latency("P1 latency p99 (ms)", p1["ours"], p1["python"], py, "p99")
    throughput("P1 requests/s vs the same handler on bare axum", p1["ours"], p1["axum"],
               "bare axum (the limit)")
    latency("P1 latency p99 (ms) vs bare axum", p1["ours"], p1["axum"], "bare axum", "p99")
    if "platform" in pf:
        r = ok_per_second(pf["platform"]) / ok_per_second(pf["axum"])
        rows.append(("P1 the route hosted by the platform (mint serve) vs bare axum: requests/s",
                     rate(ok_per_second(pf["platform"])), "bare axum",
                     rate(ok_per_second(pf["axum"])), times(r),
                     verdict(r >= 0.9, "≥ 0.9× (≤ 10 % slower)")))
    ticks = cfg.get("clock_ticks_per_second", 100)
    cpu = {s: cpu_us_per_request(w, ticks) for s, w in p1.items()}
    pf_cpu = {s: cpu_us_per_request(w, ticks) for s, w in pf.items()}
    for side, label, base in (("ours", "ours", cpu), ("platform", "the platform's route", pf_cpu)):
        if base.get(side) and base.get("axum"):
            rows.append((f"P1 server CPU per request (µs), {label} vs bare axum",
                         f"{base[side]:.1f}", "bare axum", f"{base['axum']:.1f}",
                         times(base["axum"] / base[side]), ""))
    mib = lambda kib: f"{kib / 1024:.1f}"  # noqa: E731
    rows.append(("Peak RSS after P1 load (MiB)", mib(rss["ours"]), py, mib(rss["python"]),
                 times(rss["python"] / rss["ours"]), ""))
    rows.append(("Peak RSS after P1 load (MiB) vs bare axum", mib(rss["ours"]), "bare axum",
                 mib(rss["axum"]), times(rss["axum"] / rss["ours"]), ""))
    if "platform" in rss:
        rows.append(("Peak RSS of the platform after its load (MiB) vs bare axum",
                     mib(rss["platform"]), "bare axum", mib(rss["axum"]),
                     times(rss["axum"] / rss["platform"]), ""))
    throughput(f"P2 write + read back one row (SQLite), {dbc} conn.: requests/s", p2["ours"],
               p2["python"], py, f"≥ {GOAL_THROUGHPUT:.0f}×")
    latency("P2 latency p50 (ms)", p2["ours"], p2["python"], py, "p50")
    latency("P2 latency p99 (ms)", p2["ours"], p2["python"], py, "p99")
    rows.append(("P2 failed requests (non-2xx, socket errors, timeouts)",
                 str(failures(p2["ours"])), py, str(failures(p2["python"])), "", ""))
    throughput("P2 with 1 connection (no write contention): requests/s", p2c1["ours"],
               p2c1["python"], py)
    latency("P2 with 1 connection: latency p50 (ms)", p2c1["ours"], p2c1["python"], py, "p50")
    rows.append((f"save_analysis + load_analysis, {dbc} conn.: requests/s",
                 rate(ok_per_second(an)), "— (Python standalone does not persist)", "", "", ""))
    rows.append(("save_analysis + load_analysis latency p50 / p99 (ms)",
                 f"{ms(an['latency_us']['p50'])} / {ms(an['latency_us']['p99'])}", "", "", "", ""))
    t_ours, t_mm = p5["ours"]["wall_time_seconds"], p5["msmint"]["wall_time_seconds"]
    reps = cfg["extract_repeats"]
    rows.append((f"P5 targeted extraction, 6 targets: wall time (s), best of {reps}",
                 f"{t_ours:.3f}", f"ms-mint {p5['msmint']['version']}", f"{t_mm:.3f}",
                 times(t_mm / t_ours), goal(t_ours < t_mm, "faster")))
    worst, label = area_diff(p5["ours"], p5["msmint"])
    n = len(p5["ours"]["results"])
    where = f"all {n} targets identical" if worst == 0 else f"worst: {label}"
    rows.append(("P5 largest relative peak_area difference", f"{worst * 100:.2g} %",
                 f"ms-mint {p5['msmint']['version']}", where, "",
                 goal(worst <= GOAL_AREA_REL, "≤ 0.1 %")))

    fails = {f"P1 {s}": failures(w) for s, w in p1.items() if failures(w)}
    fails.update({f"P2 1 conn. {s}": failures(w) for s, w in p2c1.items() if failures(w)})
    if failures(an):
        fails["analysis ours"] = failures(an)

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    pin = ("servers pinned to CPU 0, wrk (1 thread) to CPU 1" if cfg["pinned"]
           else f"no CPU pinning, wrk {cfg['wrk_threads']} threads")
    print(f"### bench/run, {now}\n")
    print(f"- Machine: {machine()}; load average (1/5/15 min) before the measurements "
          f"{cfg['load_before']}, after {cfg['load_after']}.")
    p1_rounds = cfg.get("p1_rounds", 1)
    turns = f", in {p1_rounds} rounds taking turns between the servers" if p1_rounds > 1 else ""
    first_round = " (P1: before each server's first round)" if p1_rounds > 1 else ""
    print(f"- Settings: measured runs of {p1_seconds} s per side for P1{turns}, and of "
          f"{cfg['seconds']} s for the others; {cfg['warmup_seconds']} s of warm-up before each "
          f"run{first_round}; {pin}; "
          f"{first_line('wrk', '-v').split(' [')[0]}.")
    if p1_rounds > 1:
        spread = "; ".join(f"{s} " + " / ".join(rate(r) for r in w["rounds"])
                           for s, w in p1.items() if "rounds" in w)
        print(f"- P1 requests/s per round: {spread}.")
    if pf_rounds:
        ratios = [p / a for p, a in zip(pf["platform"]["rounds"], pf["axum"]["rounds"])]
        spread = "; ".join(f"{s} " + " / ".join(rate(r) for r in pf[s]["rounds"])
                           for s in ("axum", "platform"))
        print(f"- The platform's route vs bare axum, {pf_rounds} rounds of 5 s taking turns "
              f"(requests/s per round): {spread}; the rounds' ratios "
              f"{min(ratios):.2f}–{max(ratios):.2f}×, median {statistics.median(ratios):.2f}×.")
    print(f"- Ours: {first_line('rustc', '--version')}, cargo profile bench-run (release without debug info). Python "
          f"{platform.python_version()}: mint-sdk {pkg('mint-sdk')}, fastapi {pkg('fastapi')}, "
          f"uvicorn {pkg('uvicorn')} (uvloop {pkg('uvloop')}, httptools {pkg('httptools')}), "
          f"SQLAlchemy {pkg('sqlalchemy')}, aiosqlite {pkg('aiosqlite')}. "
          f"{msmint_versions(cfg['msmint_python'])}.")
    print(f"- Time: build {cfg['build_seconds']} s (overlapping the Python setup), benchmarks {cfg['bench_seconds']} s.\n")
    header = ("measure", "ours (mint-rs)", "compared with", "their value", "ours better by",
              "goal")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---", "--:", "---", "--:", "--:", "---"]) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print("“Ours better by” is ours ÷ theirs for requests/s and theirs ÷ ours for latency, memory, "
          "CPU and time, so above 1× means ours is better. Requests/s count 2xx responses only; "
          "server CPU per request is the server process's user + system time over its measured "
          "rounds (P1's; the platform's own for the platform row) divided by the requests "
          "answered, which a host that gives the server less CPU for a while does not change.")
    if fails:
        print("Failed requests (non-2xx, socket errors, timeouts): "
              + ", ".join(f"{k} {v}" for k, v in fails.items()) + ".")


if __name__ == "__main__":
    main()
