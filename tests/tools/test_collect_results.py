"""tools/analysis/collect_results.py: last validation metric per run, mean and std per config."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fake_run(root, name, config, seed, values):
    run = root / name
    (run / '20260101_000000' / 'vis_data').mkdir(parents=True)
    (run / f'{config}.py').write_text(f'randomness = dict(seed={seed})\n')
    lines = [json.dumps({'loss': 1.0, 'iter': 1})] + [json.dumps({'mIoU': v, 'step': 800}) for v in values]
    (run / '20260101_000000' / 'vis_data' / 'scalars.json').write_text('\n'.join(lines) + '\n')
    return str(run)


def test_aggregates_last_value_per_run(tmp_path):
    runs = [fake_run(tmp_path, 'a', 'dacs', 0, [5.0, 20.0]), fake_run(tmp_path, 'b', 'dacs', 1, [24.0]),
            fake_run(tmp_path, 'c', 'so', 0, [9.0])]
    out = subprocess.run([sys.executable, 'tools/analysis/collect_results.py', *runs], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout[out.stdout.index('{'):])['summary']
    assert summary['dacs']['values'] == {'0': 20.0, '1': 24.0}
    assert summary['dacs']['mean'] == 22.0 and summary['dacs']['std'] == 2.0
    assert summary['so'] == {'values': {'0': 9.0}, 'step': 800, 'mean': 9.0, 'std': 0.0}


def test_run_without_metrics_is_named(tmp_path):
    run = fake_run(tmp_path, 'x', 'dacs', 0, [])
    out = subprocess.run([sys.executable, 'tools/analysis/collect_results.py', run], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 1 and "no validation entry with 'mIoU'" in out.stderr and run in out.stderr


def test_recorded_summary_and_comparison_with_a_new_run(tmp_path):
    from mmseg_procl.evaluation.run_results import comparison_lines, read_recorded_results
    runs = [fake_run(tmp_path, 'a', 'dacs', 0, [20.0]), fake_run(tmp_path, 'b', 'dacs', 1, [24.0])]
    record_path = str(tmp_path / 'record.json')
    out = subprocess.run([sys.executable, 'tools/analysis/collect_results.py', *runs, '--out', record_path],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    record = read_recorded_results(record_path)
    assert record['summary']['dacs']['mean'] == 22.0 and 'collect_results.py' in record['command']
    lines = comparison_lines(fake_run(tmp_path, 'new', 'clip', 3, [25.5]), record, record_path)
    assert lines[0] == f'target mIoU, this run vs {record_path}:'
    assert lines[1].split() == ['this', 'run', '(clip,', 'seed', '3)', '25.50']
    assert lines[2].split() == ['dacs', '(2', 'seeds)', '22.00', '+-', '2.00']
    assert len(lines) == 3 and max(len(line) for line in lines[1:]) < 80   # short: no command
    (tmp_path / 'bad.json').write_text('[1, 2]')
    with pytest.raises(ValueError, match='bad.json'):
        read_recorded_results(str(tmp_path / 'bad.json'))
