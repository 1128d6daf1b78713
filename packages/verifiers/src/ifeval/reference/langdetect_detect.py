"""Reference language ids for the agreement test: langdetect.detect with seed 0 (IFEval does
not seed it; seeding makes the comparison repeatable), one JSON string per input line, one
JSON code (or null when langdetect raises) per output line. Needs Debian's python3-langdetect."""
import json
import sys

from langdetect import DetectorFactory, detect
from langdetect.lang_detect_exception import LangDetectException

DetectorFactory.seed = 0
for line in sys.stdin:
    try:
        print(json.dumps(detect(json.loads(line))))
    except LangDetectException:
        print(json.dumps(None))
