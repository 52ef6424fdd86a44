import pytest

from spacejunk.cli import build_parser, main, parse_pair
from spacejunk._errors import InputError


def test_parser_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    assert "simulate" in capsys.readouterr().out


def test_parse_pair_names_the_option():
    assert parse_pair("4096,2048", "--shape") == (4096, 2048)
    with pytest.raises(InputError, match="--shape must be two integers"):
        parse_pair("4096x2048", "--shape")
