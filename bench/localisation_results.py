"""bench/results/localisation.json from a finished run of examples/localisation.yaml: no hand-typed figures.

Reads the campaign's results/localisation.json (the step with the code the figures are stated for), the
step's own output as the campaign ran it (--as-run, when the code changed after the run started), and
RCAEval's own BARO on the export (bench/rcaeval_baro.py's JSON lines), and writes the summary: per ranker,
view and kind AC@1 / AC@3 / Avg@5 with bootstrap intervals (as the step computed them), timing, RCAEval's
read-back (cases loaded, ground truth against ours, its BARO's AC@k over all cases and over the scored ones).

usage: python3 bench/localisation_results.py CAMPAIGN_DIR --rcaeval JSONL [--as-run LOCALISATION_JSON]
       [--meta KEY=VALUE ...] > bench/results/localisation.json
"""
import argparse
import json
import os
import sys


def ac_at_k(ranks, truth, k):
    seen = []
    for s in ranks:
        if s not in seen:
            seen.append(s)
    return 1.0 if truth in seen[:k] else 0.0


def scores(cases):
    """AC@1, AC@3, Avg@5 over (truth, ranking) pairs, RCAEval's definitions (duplicates removed)."""
    n = len(cases)
    if n == 0:
        return {"cases": 0}
    ac = {k: sum(ac_at_k(r, t, k) for t, r in cases) / n for k in range(1, 6)}
    return {"cases": n, "ac1": round(ac[1], 4), "ac3": round(ac[3], 4), "avg5": round(sum(ac.values()) / 5, 4)}


def overall(loc, view, subset, rankers=None):
    out = {}
    for name, s in loc["scores"][view][subset].items():
        if rankers and name not in rankers:
            continue
        o = s["overall"]
        out[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in o.items() if k != "ci"}
        out[name]["ci"] = o.get("ci")
        out[name]["avg5ByKind"] = {k: round(v["avg5"], 4) for k, v in s.items() if k != "overall"}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("campaign")
    ap.add_argument("--rcaeval", required=True)
    ap.add_argument("--as-run")
    ap.add_argument("--meta", nargs="*", default=[])
    a = ap.parse_args()
    loc = json.load(open(os.path.join(a.campaign, "results", "localisation.json")))
    out = {
        "what": "localisation benchmark (issue 17): examples/localisation.yaml run once, held out",
        "meta": dict(kv.split("=", 1) for kv in a.meta),
        "default": loc["default"],
        "detector": loc["detector"],
        "detected": sum(1 for e in loc["episodes"] if e["detected"]),
        "episodes": len(loc["episodes"]),
        "scores": {
            view: {subset: overall(loc, view, subset) for subset in ("all", "detected")}
            for view in ("injection", "detected")
        },
        "timing": loc["timing"],
    }
    if a.as_run:
        run = json.load(open(a.as_run))
        out["asRun"] = {
            "default": run["default"],
            "detector": run["detector"],
            "detected": sum(1 for e in run["episodes"] if e["detected"]),
            "scores": {
                view: {subset: overall(run, view, subset, {"faultline", "baro", "baro-rcaeval", "random"})
                       for subset in ("all", "detected")}
                for view in ("injection", "detected")
            },
        }
    # RCAEval's read-back: each case's truth from its folder name, matched to our episodes by injection second
    cases = [json.loads(line) for line in open(a.rcaeval) if line.strip()]
    # the export writes whole seconds (RCAEval's inject_time.txt): match within a second
    ours = {}
    for e in loc["episodes"]:
        for s in (int(e["appliedMs"] // 1000), int(e["appliedMs"] // 1000) + 1):
            ours.setdefault(s, e)
    scored, mismatched = [], []
    for c in cases:
        e = ours.get(c["inject_time"])
        if e is None:
            continue
        if c["service"] not in e["truth"]:
            mismatched.append(c["case"])
        scored.append((c["service"], c["ranks"]))
    out["rcaeval"] = {
        "package": "RCAEval 1.8.1 from PyPI (.data/rcaeval-venv, infra/setup.sh)",
        "casesLoaded": len(cases),
        "scoredEpisodesMatched": len(scored),
        "groundTruthMismatches": mismatched,
        "baroInjectionAllCases": scores([(c["service"], c["ranks"]) for c in cases]),
        "baroInjectionScoredCases": scores(scored),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
