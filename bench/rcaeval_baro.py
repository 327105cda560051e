"""RCAEval's own BARO on RCAEval-layout metric cases (faultline dataset export --rcaeval DIR).

Reads every <root>/<system>/<service>_<fault>/<repetition>/{data.csv,inject_time.txt} the way
RCAEval's evaluator does (ground truth from the folder name split on its one underscore), runs
RCAEval 1.8.1's `baro` (RCAEval/e2e/baro.py, loaded from the installed package by path: the
package's e2e/__init__ imports every method's dependencies, causal-learn among them, which BARO
does not need), and prints one JSON object per case: the truth, the inject time, the rows, and the
ranked services (each ranked series' service = its name up to the first underscore, first
occurrence kept, as RCAEval's evaluation does).

usage: python bench/rcaeval_baro.py ROOT   (the venv: .data/rcaeval-venv, see infra/setup.sh)
"""
import importlib.util
import json
import os
import sys

import pandas as pd
import RCAEval


def load_baro():
    path = os.path.join(RCAEval.__path__[0], "e2e", "baro.py")
    spec = importlib.util.spec_from_file_location("rcaeval_e2e_baro", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.baro


def main(root):
    baro = load_baro()
    for system in sorted(os.listdir(root)):
        for case in sorted(os.listdir(os.path.join(root, system))):
            service, fault = case.split("_")  # RCAEval: exactly one underscore
            for rep in sorted(os.listdir(os.path.join(root, system, case)), key=int):
                d = os.path.join(root, system, case, rep)
                data = pd.read_csv(os.path.join(d, "data.csv"))
                with open(os.path.join(d, "inject_time.txt")) as f:
                    inject_time = int(f.read().strip())
                # dataset: any name but the causalrca one makes preprocess drop time and constant series
                out = baro(data, inject_time=inject_time, dataset=system)
                services = []
                for s in out["ranks"]:
                    svc = s.split("_")[0]
                    if svc not in services:
                        services.append(svc)
                print(json.dumps({
                    "case": f"{system}/{case}/{rep}",
                    "service": service,
                    "fault": fault,
                    "inject_time": inject_time,
                    "rows": int(len(data)),
                    "time_is_seconds": bool((data["time"].diff().dropna() == 1).all()),
                    "ranks": services,
                }))


if __name__ == "__main__":
    main(sys.argv[1])
