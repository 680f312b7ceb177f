"""The benchmark scripts run from a checkout and print their JSON (smallest settings; no timing asserted)."""
import json
import subprocess
import sys

import tool_runs


def bench(*args) -> dict:
    """Run ``python bench/<args>`` in the repository; the JSON object it printed."""
    out = subprocess.run([sys.executable, *args], cwd=tool_runs.REPO, capture_output=True, text=True,
                         env=tool_runs.ENV, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout[out.stdout.index('{'):])


def test_train_step_bench_measures_and_checks_host_reads():
    record = bench('bench/train_step.py', '--methods', 'source-only DeepLabV2', 'DACS DeepLabV2',
                   '--steps', '1', '--warmup', '0')
    rows = record['methods']
    assert set(rows) == {'source-only DeepLabV2', 'DACS DeepLabV2'}
    assert all(row['step_s'] > 0 and row['peak_memory_mib'] > 0 and row['host_sync'] == 'none'
               for row in rows.values())
    assert rows['DACS DeepLabV2']['ratio_over_source_only'] > 1
    assert rows['DACS DeepLabV2']['source_hw'] == [128, 128] and record['size'] == 'tiny'


def test_sampler_memory_bench():
    rows = bench('bench/sampler_memory.py', '--sizes', '2000x500')['rows']
    assert rows[0]['product'] == 10**6 and rows[0]['InfiniteSampler'] > 10 > rows[0]['UDAInfiniteSampler']


def test_data_pipeline_bench_with_the_resized_cache():
    branches = bench('bench/data_pipeline.py', '--num', '1', '--repeats', '1', '--resized-cache')['branches']
    assert set(branches) == {'source', 'target', 'source (resized cache)'}
    assert 'LoadResizedCache' in branches['source (resized cache)']['per_transform_ms']
    assert all(b['ratio_decode_over_pipeline'] > 0 for b in branches.values())
