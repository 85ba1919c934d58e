"Every `s2kd` command's `--help` states every default (`s2kd data show` once defaulted to tiny without saying so)."
import argparse
import pytest
from s2kd.cli import COMMANDS, main


class _Stop(Exception): pass


def _parsers(cmd: str, monkeypatch) -> list:
    "The argparse parsers (with their sub-command parsers) a command builds, captured before it parses anything."
    seen = []
    def grab(self, args=None, namespace=None): seen.append(self); raise _Stop
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", grab)
    with pytest.raises(_Stop): main(cmd.split())
    out, todo = [], seen
    while todo:
        p = todo.pop(); out.append(p)
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction): todo += list(a.choices.values())
    return out


def _undocumented(p: argparse.ArgumentParser) -> list:
    "Options whose default the help does not state."
    fmt, bad = p._get_formatter(), []
    for a in p._actions:
        if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) or a.default is argparse.SUPPRESS: continue
        if a.default is False and a.nargs == 0: continue                         # an off flag
        shown = a.help and ("%(default)" in (fmt._get_help_string(a) or "") or "default" in a.help.lower())
        if not a.option_strings and a.nargs is None: continue                    # a required positional has no default
        if not shown: bad.append(f"{p.prog} {'/'.join(a.option_strings) or a.dest} (default {a.default!r})")
    return bad


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_help_states_every_default(cmd, monkeypatch):
    bad = [b for p in _parsers(cmd, monkeypatch) for b in _undocumented(p)]
    assert not bad, "help without the default: " + "; ".join(bad)


def test_data_show_says_it_defaults_to_tiny(capsys):
    with pytest.raises(SystemExit): main(["data", "show", "--help"])
    assert "(default: tiny)" in " ".join(capsys.readouterr().out.split())


def test_python_m_cli_runs_the_command(tmp_path):
    "`python -m s2kd.cli …` is `s2kd …`: it once imported the module, did nothing and exited 0, which scripts read as success."
    import subprocess, sys
    p = subprocess.run([sys.executable, "-m", "s2kd.cli", "train", str(tmp_path / "none.yaml")], capture_output=True, text=True)
    assert p.returncode == 2 and "none.yaml: no such config file" in p.stderr, (p.returncode, p.stderr)
