"""Reference values for the Python-semantics differential test: for each JSON string on stdin,
print [len(re.findall(r"\\w+", t)), t.isupper(), t.islower(), t.split(), t.strip(), t.lower(),
len(re.findall(r"\\b[a-z]+\\b", t))] as JSON. Plain Python 3, no packages."""
import json
import re
import sys

for line in sys.stdin:
    text = json.loads(line)
    print(json.dumps([
        len(re.findall(r"\w+", text)),
        text.isupper(),
        text.islower(),
        text.split(),
        text.strip(),
        text.lower(),
        len(re.findall(r"\b[a-z]+\b", text)),
    ]))
