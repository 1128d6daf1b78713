"""Reference tokenizer for the differential test: NLTK's NLTKWordTokenizer (the per-sentence
step of nltk.word_tokenize), one JSON string per input line, one JSON token list per output line.
Needs Debian's python3-nltk (no NLTK data required)."""
import json
import sys

from nltk.tokenize.destructive import NLTKWordTokenizer

tokenizer = NLTKWordTokenizer()
for line in sys.stdin:
    print(json.dumps(tokenizer.tokenize(json.loads(line))))
