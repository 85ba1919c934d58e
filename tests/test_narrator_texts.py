"""The rule-based narrators write the recorded texts at their recorded identities (tests/narrator_texts.json).

A narrative cache is keyed by the narrator's identity, and since session 36 a multimodal teacher's data key by the
texts' hash; a wording change without a `version` bump would still reuse cached texts of the old wording. This test
fails then, naming the narrator; `python tools/narrator_texts.py` records the new texts after the bump.
"""
import importlib.util, json, warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("narrator_texts", ROOT / "tools" / "narrator_texts.py")
nt = importlib.util.module_from_spec(spec); spec.loader.exec_module(nt)


def test_rule_based_narrators_write_the_recorded_texts(tmp_path):
    old = json.loads(nt.FILE.read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); new = nt.record(str(tmp_path))
    assert [(e["narrator"], e["dataset"]) for e in new] == [(e["narrator"], e["dataset"]) for e in old], "run tools/narrator_texts.py"
    assert not (bad := nt.changed(old, new)), ("the texts changed at an unchanged identity: bump the narrator's `version` "
                                               "(s2kd.narrate.core) so cached texts of the old wording are not reused, then "
                                               "run tools/narrator_texts.py:\n" + "\n".join(bad))
    moved = [(e["narrator"], e["dataset"]) for e, o in zip(new, old) if e["identity"] != o["identity"]]
    assert not moved, f"identities changed (a version bump?): run tools/narrator_texts.py to record their texts: {moved}"


def test_differs_reads_words_exactly_and_numbers_to_their_printed_digits():
    a = "u peaks at 13.3 m s-1 near 48°S and moves south-west by 16 cells"
    assert not nt.differs(a, a.replace("13.3", "13.4"))      # one unit of the last printed digit: another CPU's rounding
    assert nt.differs(a, a.replace("13.3", "13.6"))          # more: another value
    assert nt.differs(a, a.replace("south-west", "west"))    # a word: another text
    assert nt.differs(a, a.replace("48°S", "50°S"))
