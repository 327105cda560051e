"""Summarise a finished false-alarm campaign (examples/false-alarms.yaml, issue 15): bench/results/false-alarms.json.

Every number comes from the campaign's own files; nothing here re-scores or re-thresholds anything:
  <campaign>/report/results.json   the report's copy of the evaluation (per detector metrics, alarm rules, the choice),
                                   the phases' start/end and the fault counts
  --log    the `campaign start --wait` output: its first timestamp is the start; the report's creation time the end
  --load   lines "HH:MM:SS <contents of /proc/loadavg>" sampled during the run: the host's 1-minute load range

The 95 % upper bound on the false-alarm rate is the one-sided Poisson bound for k observed alarms in T quiet hours:
the rate mu / T with P(X <= k | mu) = 0.05 (k = 0: -ln 0.05 / T ≈ 3.0 / T).

Usage: python3 bench/false_alarms.py <campaign dir> --log campaign.log --load load.log
         [--config examples/false-alarms.yaml] [--out bench/results/false-alarms.json]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from datetime import datetime, timezone
from pathlib import Path


def poisson_cdf(k: int, mu: float) -> float:
    term = math.exp(-mu)
    total = term
    for i in range(1, k + 1):
        term *= mu / i
        total += term
    return total


def poisson_upper(k: int, confidence: float = 0.95) -> float:
    """The mu at which seeing k or fewer events has probability 1 - confidence (one-sided upper bound)."""
    lo, hi = 0.0, max(10.0, 10.0 * (k + 1))
    for _ in range(200):
        mid = (lo + hi) / 2
        if poisson_cdf(k, mid) > 1 - confidence:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def rnd(x, digits=4):
    return None if x is None else round(float(x), digits)


def log_span(path: Path, end_ms: float) -> dict:
    stamps = re.findall(r'^\[(\d{4}-\d\d-\d\dT[\d:.]+Z)\]', path.read_text(), re.M)
    if not stamps:
        sys.exit(f'{path}: no "[<ISO time>]" lines; pass the output of `campaign start --wait`')
    first = datetime.fromisoformat(stamps[0].replace('Z', '+00:00'))
    # the log's last progress line is the evaluate phase's start; the report's creation ends the run
    last = datetime.fromtimestamp(end_ms / 1000, tz=timezone.utc)
    secs = (last - first).total_seconds()
    return {
        'started': first.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'ended': last.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'seconds': round(secs),
        'text': f'{int(secs // 60)} min {int(secs % 60)} s from start to report',
    }


def load_range(path: Path, start: str, end: str) -> dict:
    vals = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        # the sampler writes only HH:MM:SS; the run stays within one UTC day or the caller trims the file
        hhmmss = parts[0]
        if start[11:19] <= hhmmss <= end[11:19] or start[11:19] > end[11:19]:
            vals.append(float(parts[1]))
    if not vals:
        sys.exit(f'{path}: no load samples between {start} and {end}')
    return {'load1Min': min(vals), 'load1Max': max(vals), 'samples': len(vals)}


def seconds(d: str) -> float:
    m = re.fullmatch(r'(\d+(?:\.\d+)?)(ms|s|m|h)', d)
    if not m:
        sys.exit(f'duration {d!r}: expected e.g. 1s, 500ms')
    return float(m.group(1)) * {'ms': 0.001, 's': 1, 'm': 60, 'h': 3600}[m.group(2)]


def window_seconds(campaign: Path) -> float:
    ds = json.loads((campaign / 'config.json').read_text())['dataset']
    return seconds(ds['step']) * int(ds['window']['stride'])


def detector_row(d: dict) -> dict:
    if d.get('cannotScore') is not None or not d.get('test'):
        return {'name': d['name'], 'kind': d['kind'], 'cannotScore': d.get('cannotScore') or 'no scores'}
    t = d['test']
    row = {
        'name': d['name'],
        'kind': d['kind'],
        'rocAuc': rnd(t['rocAuc']),
        'prAuc': rnd(t['prAuc']),
        'vusPr': rnd(t['vusPr']),
        'bestF1': rnd(t['bestF1']['f1']),
        'bestF1PointAdjusted': rnd(t['bestF1PointAdjusted']['f1']),
    }
    if d['kind'] == 'reference':
        return row
    row['f1AtValidationThreshold'] = rnd(t['atThreshold']['f1'])
    row['thresholdMethod'] = t.get('thresholdMethod')
    al = d.get('alarm')
    if al:
        fa = al['test']['falseAlarms']
        qr = al['test'].get('quietRuns') or {}
        k = int(fa['alarms'])
        hours = float(fa['normalHours'])
        row['alarmRule'] = {
            'threshold': rnd(al['rule']['threshold'], 6),
            'k': al['rule']['k'],
            'n': al['rule']['n'],
            'holdMs': al['rule']['holdMs'],
            'basis': al['basis'],
            'constraintMetOnValidation': al['constraintMet'],
            'unseenKinds': al.get('unseenKinds', []),
        }
        row['test'] = {
            'quietMinutes': round(hours * 60, 2),
            'falseAlarms': k,
            'falseAlarmsPerQuietHour': rnd(fa['perHour'], 2),
            'falseAlarmsPerQuietHourUpper95': round(poisson_upper(k) / hours, 2) if hours > 0 else None,
            'withLateClearing': qr.get('alarms'),
            'withLateClearingPerQuietHour': rnd(qr.get('perHour'), 2),
            'quietTimeUnderAlarm': rnd(al['test'].get('quietAlarmShare')),
            'perKind': {
                r['faultType']: {'detected': r['detected'], 'total': r['faults'], 'recall': rnd(r['recall'])}
                for r in al['test']['recall']
            },
            'minRecall': rnd(al['test']['minRecall']),
            'recallBasis': al['test'].get('recallBasis'),
        }
        row['test']['goalMet'] = bool(
            row['test']['falseAlarmsPerQuietHour'] is not None
            and row['test']['falseAlarmsPerQuietHour'] <= 10
            and row['test']['minRecall'] is not None
            and row['test']['minRecall'] >= 0.95
        )
        row['test']['goalDemonstrated'] = bool(
            row['test']['goalMet']
            and row['test']['falseAlarmsPerQuietHourUpper95'] is not None
            and row['test']['falseAlarmsPerQuietHourUpper95'] <= 10
        )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('campaign', type=Path)
    ap.add_argument('--log', type=Path, required=True)
    ap.add_argument('--load', type=Path, required=True)
    ap.add_argument('--config', default='examples/false-alarms.yaml')
    ap.add_argument('--out', type=Path, default=Path('bench/results/false-alarms.json'))
    a = ap.parse_args()

    rep_path = a.campaign / 'report' / 'results.json'
    if not rep_path.exists():
        sys.exit(f'{rep_path}: missing; the campaign has not reached its report phase')
    rep = json.loads(rep_path.read_text())
    ev = rep['evaluation']
    span = log_span(a.log, rep['summary']['createdMs'])
    cov = {c['split']: c for c in ev.get('coverage', [])}
    chosen = ev.get('chosen') or {}
    rows = [detector_row(d) for d in ev['detectors']]
    chosen_row = next((r for r in rows if r['name'] == chosen.get('detector')), None)
    out = {
        'what': 'false alarms per quiet hour beside per-kind recall (issue 15): '
        f'{a.config} run once, held out (the alarm rule and the evaluation were fixed before the run started)',
        'meta': {
            'campaignId': rep['summary']['campaignId'],
            'config': a.config,
            'started': span['started'],
            'ended': span['ended'],
            'wallClock': span['text'],
            'wallClockSeconds': span['seconds'],
            'phases': {p['name']: {'start': iso(p['startMs']), 'end': iso(p['endMs'])} for p in rep['phases']},
            'host': {'cores': 2, **load_range(a.load, span['started'], span['ended'])},
            'faultsInjected': rep['faults']['total'],
            'faultsByType': rep['faults']['byType'],
            'faultsByStatus': rep['faults']['byStatus'],
            'windows': {
                s: {'windows': c['windows'], 'normal': c['normal'], 'anomalous': c['anomalous']} for s, c in cov.items()
            },
            # one window per stride x step of time: normal windows x that = time labelled normal
            'quietMinutesInTest': (
                round(cov['test']['normal'] * window_seconds(a.campaign) / 60, 2) if 'test' in cov else None
            ),
            'errors': rep.get('errors', []),
        },
        'chosen': {
            'detector': chosen.get('detector'),
            'rule': chosen.get('rule'),
            'why': chosen.get('why'),
            'alarmRule': chosen_row.get('alarmRule') if chosen_row else None,
            'alarmRuleWhy': next(
                (d['alarm']['why'] for d in ev['detectors'] if d['name'] == chosen.get('detector') and d.get('alarm')),
                None,
            ),
            'test': chosen_row.get('test') if chosen_row else None,
        },
        'goal': '≤ 10 false alarms per quiet hour with every fault kind at recall ≥ 0.95, '
        'under the alarm rule chosen on validation',
        'detectors': rows,
    }
    a.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + '\n')
    print(f'wrote {a.out}')


if __name__ == '__main__':
    main()
