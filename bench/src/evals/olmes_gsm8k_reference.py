"""OLMES GSM8K exact_match rule in Python (behaviour from shared/reference/evals.md), the
reference our TypeScript port is compared against: same verdict on every response, and speed.

Input: a JSON file [{"response": str, "gold": str}]; output: one JSON line with the verdicts.
"""
import json
import re
import sys
import time

NUMBER = re.compile(r"[-+]?\d*\.\d+|\d+")


def normalize(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"(\d),(\d)", r"\1\2", text)
    numbers = NUMBER.findall(text)
    if numbers:
        text = numbers[-1]
    text = text.replace(",", "").replace("$", "")
    text = re.sub(r"(?s).*#### ", "", text)
    text = re.sub(r"\.$", "", text)
    return text.lower().strip()


def main() -> None:
    pairs = json.load(open(sys.argv[1]))
    start = time.perf_counter()
    verdicts = [1 if normalize(p["response"]) == normalize(p["gold"]) else 0 for p in pairs]
    seconds = time.perf_counter() - start
    print(json.dumps({"verdicts": verdicts, "seconds": seconds}))


if __name__ == "__main__":
    main()
