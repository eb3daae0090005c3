"""The README's quickstart is what CI runs, and every Python block of the README runs as shown.

The rule for the README's ```python blocks: the blocks of one ``## `` section run in order in one
namespace, as a reader pasting them into a fresh interpreter one after another would run them;
every section starts from an empty namespace, its own default graph (so its variables and global
step are its own) and an empty temporary working directory (so a block that writes files, like
``ModelCheckpoint("ckpts")``, writes there). A failure names the README line and first line of
the block that raised, and the traceback points at README.md's own line numbers. An
``OptimizeWarning`` (an option that was ignored) counts as a failure: the README would be
showing an option that does nothing.
"""

import os
import pathlib
import re
import traceback
import warnings

import pytest
import scipy.optimize

import optim

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

_FENCE = re.compile(r"^```(\w*)[ \t]*$")


def quickstart_commands():
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quickstart_has_exactly_two_commands():
    commands = quickstart_commands()
    assert len(commands) == 2
    assert "examples/mnist_softmax.py" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quickstart_commands()[1] in ci


def fenced_blocks(text):
    """Every fenced block of a markdown text, as ``(section, language, first_line, code)``.

    ``section`` is the title of the enclosing ``## `` heading ("" before the first one),
    ``first_line`` the 1-based line number of the block's first code line. An unclosed fence
    raises ``ValueError``.
    """
    blocks = []
    section = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        opening = _FENCE.match(line)
        if opening is None:
            if line.startswith("## "):
                section = line[3:].strip()
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"README.md line {i + 1}: the fence opened here is never closed.")
        blocks.append((section, opening.group(1), start + 1, "\n".join(lines[start:end]) + "\n"))
        i = end + 1
    return blocks


def python_sections():
    """The README's ```python blocks grouped by section, in README order."""
    sections = {}
    for section, language, first_line, code in fenced_blocks(README.read_text()):
        if language == "python":
            sections.setdefault(section, []).append((first_line, code))
    return sections


def test_fenced_blocks_sees_every_python_fence():
    text = README.read_text()
    found = sum(len(blocks) for blocks in python_sections().values())
    assert found > 0, "README.md has no ```python block."
    assert found == len(re.findall(r"^```python[ \t]*$", text, re.M))


def test_fenced_blocks_reports_sections_languages_and_lines():
    text = "intro\n## One\n```python\na = 1\n```\n```bash\nls\n```\n## Two\n```\nx\n```\n"
    assert fenced_blocks(text) == [
        ("One", "python", 4, "a = 1\n"),
        ("One", "bash", 7, "ls\n"),
        ("Two", "", 11, "x\n"),
    ]
    with pytest.raises(ValueError, match="line 2"):
        fenced_blocks("## One\n```python\na = 1\n")


def run_section(blocks):
    """Runs one section's blocks in order in one namespace, failing with the block's line."""
    namespace = {"__name__": "__readme__"}
    with optim.Graph().as_default(), warnings.catch_warnings():
        warnings.simplefilter("error", scipy.optimize.OptimizeWarning)
        for first_line, code in blocks:
            # Padding with newlines makes tracebacks show README.md's own line numbers.
            compiled = compile("\n" * (first_line - 1) + code, str(README), "exec")
            try:
                exec(compiled, namespace)
            except Exception:
                head = code.splitlines()[0]
                pytest.fail(
                    f"README.md block at line {first_line} ({head!r}) raised:\n"
                    f"{traceback.format_exc()}"
                )
    return namespace


def test_run_section_names_the_failing_block():
    blocks = [(10, "x = 1\n"), (20, "y = x + 1\nundefined_name\n")]
    with pytest.raises(pytest.fail.Exception) as info:
        run_section(blocks)
    message = str(info.value)
    assert "line 20 ('y = x + 1')" in message
    assert f'File "{README}", line 21' in message
    assert "NameError" in message


def test_run_section_fails_on_an_ignored_option():
    code = "import optim\noptim.minimize(lambda x: x**2, 1.0, options={'nope': 1})\n"
    with pytest.raises(pytest.fail.Exception, match="OptimizeWarning"):
        run_section([(3, code)])


def test_run_section_continues_one_namespace():
    namespace = run_section([(1, "x = 1\n"), (5, "y = x + 1\n")])
    assert namespace["y"] == 2


@pytest.mark.parametrize("section", list(python_sections()))
def test_readme_python_blocks_run(section, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_section(python_sections()[section])
    assert os.getcwd() == str(tmp_path)
