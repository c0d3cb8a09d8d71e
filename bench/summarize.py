#!/usr/bin/env python3
"""summarize.py RESULTS_DIR: the Markdown summary of one bench/run.sh run (stdout), and
summary.json beside raw.jsonl. Standard library only.

Each figure is the median over the repetitions, with its spread as +-half the min-max range
in % of the median. The ratio column compares certgate with the best of nginx and HAProxy
measured in the same run; it is oriented so that above 1 always means certgate is better
(CPU, memory and latency ratios are inverted: best anchor / certgate)."""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

out = Path(sys.argv[1])
all_rows = [json.loads(line) for line in (out / "raw.jsonl").read_text().splitlines() if line.strip()]
rows = [r for r in all_rows if not r.get("superseded")]  # a disturbed run that was measured again


def derived(r):
    """Per-run figures computed from one raw line."""
    d = dict(r)
    cpu = r.get("proxy_cpu_s")
    if cpu is not None:
        if r.get("reqs"):
            d["cpu_ms_per_1k"] = cpu * 1e6 / r["reqs"]
        if r.get("handshakes"):
            d["cpu_ms_per_hs"] = cpu * 1e3 / r["handshakes"]
        if r.get("body_bytes"):
            d["cpu_s_per_gib"] = cpu / (r["body_bytes"] / 2**30)
    if r.get("phase") == "resume" and r.get("secs"):
        d["resumed_per_s"] = r.get("resumed", 0) / r["secs"]
    if r.get("handshakes"):
        d["resumed_pct"] = 100.0 * r.get("resumed", 0) / r["handshakes"]
    if r.get("phase") == "hold":
        base = r["rss_base_kib"]
        for i in (1, 2):
            n = min(r[f"held_{i}"], r[f"estab_{i}"]) if r.get(f"estab_{i}") else r[f"held_{i}"]
            if n > 0:
                d[f"kib_per_conn_{i}"] = (r[f"rss_{i}_kib"] - base) / n
        d["rss_base_mib"] = base / 1024
    return d


def disturbance(r):
    return ", ".join(f"{k.split('_')[0]} other {r[k]:.0f}%" for k in sorted(r) if k.endswith("_other_pct")) + \
        "".join(f", {k.split('_')[0]} steal {r[k]:.0f}%" for k in sorted(r) if k.endswith("_steal_pct") and r[k] > 5)


runs = defaultdict(list)  # (target, phase) -> [derived row per rep]
for r in rows:
    runs[(r["target"], r["phase"])].append(derived(r))


def stat(target, phase, key):
    vals = [r[key] for r in runs.get((target, phase), []) if isinstance(r.get(key), (int, float))]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def cell(s, digits):
    if s is None:
        return "–"
    txt = f"{s['median']:,.{digits}f}"
    if s["n"] > 1 and s["median"]:
        txt += f" ±{(s['max'] - s['min']) / 2 / abs(s['median']) * 100:.0f}%"
    return txt


# label, phase, key, digits, higher_is_better (None: no ratio)
# The keep-alive "direct" line has the load generator and the upstream sharing the load core:
# it is the no-proxy reference, not a ceiling for the machine.
FIGURES = [
    ("keep-alive GET req/s ({conns} conns)", "ka", "rps", 0, True),
    ("proxy CPU ms per 1,000 keep-alive req", "ka", "cpu_ms_per_1k", 1, False),
    ("keep-alive latency p50, ms", "ka", "p50_ms", 2, False),
    ("keep-alive latency p99, ms", "ka", "p99_ms", 2, False),
    ("full mTLS handshakes/s ({hs_conns} conns)", "hs", "hs_per_s", 0, True),
    ("proxy CPU ms per full handshake", "hs", "cpu_ms_per_hs", 2, False),
    ("resumed handshakes/s (accepted by the server)", "resume", "resumed_per_s", 0, True),
    ("— resumption accepted, % of handshakes", "resume", "resumed_pct", 0, None),
    ("proxy RSS KiB per idle TLS conn (@{hold1})", "hold", "kib_per_conn_1", 1, False),
    ("proxy RSS KiB per idle TLS conn (@{hold2})", "hold", "kib_per_conn_2", 1, False),
    ("— idle proxy RSS, MiB (baseline)", "hold", "rss_base_mib", 1, None),
    ("upload MiB/s ({uploads} × {upload_mib} MiB POSTs)", "upload", "mibps", 0, True),
    ("proxy CPU s per GiB uploaded", "upload", "cpu_s_per_gib", 2, False),
]
COLUMNS = [("certgate", "certgate"), ("certgate-2w", "certgate (2 workers)"), ("nginx", "nginx 1.22"),
           ("haproxy", "HAProxy 2.6"), ("direct", "direct (no proxy)")]
ANCHORS = ["nginx", "haproxy"]

meta = {}
meta_path = out / "meta.txt"
if meta_path.exists():
    for line in meta_path.read_text().splitlines():
        k, _, v = line.partition(": ")
        meta[k] = v
knobs = dict(kv.split("=", 1) for kv in meta.get("knobs", "").split() if "=" in kv)
fill = {"conns": knobs.get("CONNS", "64"), "hs_conns": knobs.get("HS_CONNS", "32"),
        "hold1": f"{int(knobs.get('HOLD1', 1000)):,}", "hold2": f"{int(knobs.get('HOLD2', 5000)):,}",
        "uploads": knobs.get("UPLOADS", "5"), "upload_mib": knobs.get("UPLOAD_MIB", "100")}

present = {t for t, _ in runs}
if not present:
    sys.exit(f"summarize.py: no measurements in {out / 'raw.jsonl'}")
cols = [(t, name) for t, name in COLUMNS if t in present]
summary = {}

print(f"# certgate benchmark — {out.name}\n")
print("Medians over the repetitions; ±x% is half the min–max range relative to the median. "
      "The ratio is certgate / best anchor (nginx or HAProxy, whichever is better on that row), "
      "**oriented so that > 1 always means certgate is better**: rows marked (inv.) are lower-is-better "
      "figures (CPU, memory, latency) where the ratio is inverted to best anchor / certgate.\n")
print("| figure | " + " | ".join(name for _, name in cols) + " | certgate / best anchor | reps |")
print("|---" * (len(cols) + 3) + "|")
for label, phase, key, digits, higher in FIGURES:
    stats = {t: stat(t, phase, key) for t, _ in cols}
    if not any(stats.values()):
        continue
    ratio = "–"
    cg = stats.get("certgate")
    anchors = [stats[a]["median"] for a in ANCHORS if stats.get(a)]
    if higher is not None and cg and anchors and cg["median"]:
        best = max(anchors) if higher else min(anchors)
        ratio = f"{cg['median'] / best:.2f}×" if higher else f"{best / cg['median']:.2f}× (inv.)"
    reps = max(s["n"] for s in stats.values() if s)
    print(f"| {label.format(**fill)} | " + " | ".join(cell(stats[t], digits) for t, _ in cols) +
          f" | {ratio} | {reps} |")
    summary[key] = {t: s for t, s in stats.items() if s}

one, two = stat("certgate", "ka", "cpu_ms_per_1k"), stat("certgate-2w", "ka", "cpu_ms_per_1k")
if one and two:
    r = two["median"] / one["median"]
    per_rep = {t: ", ".join(f"{x['cpu_ms_per_1k']:.1f}" for x in runs[(t, "ka")] if "cpu_ms_per_1k" in x)
               for t in ("certgate", "certgate-2w")}
    print(f"\ncertgate `workers: 2` vs `workers: 1`, proxy CPU per 1,000 keep-alive requests: **{r:.2f}×** "
          f"({two['median']:.1f} vs {one['median']:.1f} ms; target ≤ 1.10×, {'met' if r <= 1.10 else 'NOT met'}). "
          f"Both run pinned to the same single core. Per repetition: 2 workers {per_rep['certgate-2w']}; "
          f"1 worker {per_rep['certgate']} ms.")

# Where the time went: busy % of the proxy core and the load core, and whether the load side
# saturated first (then the rate is a lower bound and the proxy-CPU figure is the one to read).
cores = [k.split("_")[0] for k in rows[0] if k.startswith("cpu") and k.endswith("_busy_pct")] if rows else []
if len(cores) == 2:
    pc, lc = cores
    print(f"\n## Core load (median busy %, {pc} = proxy core / {lc} = load core)\n")
    print("| phase | " + " | ".join(name for _, name in cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    marked = False
    for phase in ("ka", "hs", "resume", "upload"):
        cells = []
        for t, _ in cols:
            a, b = stat(t, phase, f"{pc}_busy_pct"), stat(t, phase, f"{lc}_busy_pct")
            if not a or not b:
                cells.append("–")
                continue
            dagger = "†" if t != "direct" and b["median"] >= 97 and a["median"] < 95 else ""
            marked = marked or bool(dagger)
            cells.append(f"{a['median']:.0f} / {b['median']:.0f}{dagger}")
        if any(c != "–" for c in cells):
            print(f"| {phase} | " + " | ".join(cells) + " |")
    if marked:
        print("\n† the load core saturated before the proxy core: the rate is a lower bound there; "
              "compare the proxy-CPU rows instead.")

errs = [(t, ph, r.get("errors", 0), r.get("non2xx", 0), r.get("rep")) for (t, ph), rs in runs.items() for r in rs
        if r.get("errors", 0) or r.get("non2xx", 0)]
retried = [r for r in all_rows if r.get("superseded")]
still = [r for r in rows if r.get("disturbed")]
if retried or still:
    print("\n## Disturbed runs\n")
    print("A run is disturbed when over 8 % of a core's time (plus 3 clock ticks of rounding) went to work "
          "that is neither the proxy's nor the load side's (another process, the host), or the host stole "
          "over 5 %. run.sh measures a disturbed run again, up to twice, and uses the last measurement.\n")
    for r in retried:
        print(f"- {r['target']} {r['phase']} rep {r['rep']}: measured again ({disturbance(r)})")
    for r in still:
        print(f"- {r['target']} {r['phase']} rep {r['rep']}: **still disturbed** on the third try, "
              f"used anyway ({disturbance(r)})")

print("\n## Errors\n")
if errs:
    for t, ph, e, n, rep in errs:
        print(f"- {t} {ph} rep {rep}: {e} errors, {n} non-2xx")
else:
    print("No connection errors and no non-2xx responses in any measured window.")

checks_path = out / "checks.tsv"
if checks_path.exists():
    print("\n## Functional checks (curl, before measuring)\n")
    for line in checks_path.read_text().splitlines():
        if line.strip():
            t, what, result = line.split("\t", 2)
            print(f"- {t}: {what}: {result}")

tls = sorted({r["tls"] for r in rows if r.get("tls")})
print("\n## Run\n\n```")
for k, v in meta.items():
    print(f"{k}: {v}")
if tls:
    print(f"negotiated: {', '.join(tls)}")
print("```")

(out / "summary.json").write_text(json.dumps(
    {"figures": summary, "runs": {f"{t}/{ph}": rs for (t, ph), rs in runs.items()}}, indent=1))
