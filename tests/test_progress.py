"""Progress bars on a terminal, plain output in logs."""

from __future__ import annotations

import io

from newsclean.progress import on_terminal, steps


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_the_items_and_no_bar():
    log = io.StringIO()
    assert list(steps(["a", "b"], "fitting", stream=log)) == ["a", "b"]
    assert log.getvalue() == ""
    assert not on_terminal(log)


def test_a_terminal_gets_a_bar_named_after_the_step():
    terminal = Terminal()
    assert list(steps(iter(["a", "b", "c"]), "fitting", total=3, stream=terminal)) == list("abc")
    shown = terminal.getvalue()
    assert "fitting" in shown and "/3" in shown  # tqdm redraws at most every 0.1 s
