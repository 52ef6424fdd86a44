import subprocess
import sys

import pytest

from spacejunk._errors import InputError
from spacejunk.cli import build_parser, parse_pair


def test_parser_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser(["--help"]).parse_args(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("simulate", "preview", "detect", "train", "evaluate", "review"):
        assert name in out


def test_only_the_chosen_command_gets_its_options():
    args = build_parser(["simulate", "--out", "x"]).parse_args(["simulate", "--out", "x", "--n", "3"])
    assert args._name == "simulate" and args.n == 3 and args.out == "x"


def test_version_does_not_import_torch():
    code = "import sys; from spacejunk.cli import main; main(['--version'])"
    proc = subprocess.run([sys.executable, "-c", code + "\n"], capture_output=True, text=True)
    assert "spacejunk" in proc.stdout
    code = ("import sys\nfrom spacejunk.cli import build_parser\nbuild_parser(['--version'])\n"
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "False"


def test_parse_pair_names_the_option():
    assert parse_pair("4096,2048", "--shape") == (4096, 2048)
    with pytest.raises(InputError, match="--shape must be two integers"):
        parse_pair("4096x2048", "--shape")
