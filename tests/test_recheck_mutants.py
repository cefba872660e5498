"""``tests/recheck_mutants.py`` on a toy project: a "mutant" is active when its name is in
``MUTANT_UNDER_TEST``, as mutmut's trampolines read it at every call."""
import os
import subprocess
import sys
import textwrap

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recheck_mutants.py")

TOY = """
import os

def double(x):
    if os.environ.get("MUTANT_UNDER_TEST") == "toy.x_double__mutmut_3":
        while True:               # a mutant that never returns
            pass
    if os.environ.get("MUTANT_UNDER_TEST") == "toy.x_double__mutmut_4":
        return bytearray(64 * 2**30)   # a mutant that asks for 64 GB
    if os.environ.get("MUTANT_UNDER_TEST") == "toy.x_double__mutmut_1":
        return x + x + 1          # a planted bug the test sees
    if os.environ.get("MUTANT_UNDER_TEST") == "toy.x_double__mutmut_2":
        return x * 2              # an equivalent rewrite it cannot see
    return 2 * x
"""


def _run(tmp_path, test_body, names, limits=()):
    (tmp_path / "toy.py").write_text(textwrap.dedent(TOY))
    (tmp_path / "test_toy.py").write_text(textwrap.dedent(test_body))
    (tmp_path / "names").write_text("\n".join(names) + "\n\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    env.pop("MUTANT_UNDER_TEST", None)
    return subprocess.run([sys.executable, SCRIPT, *limits, str(tmp_path / "names"),
                           "test_toy.py",
                           "-p", "no:randomly", "--rootdir", str(tmp_path)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def test_each_mutant_is_reported_killed_or_survived_in_order(tmp_path):
    result = _run(tmp_path, """
        from toy import double

        def test_double():
            assert double(3) == 6
        """, ["toy.x_double__mutmut_1", "toy.x_double__mutmut_2"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["KILLED toy.x_double__mutmut_1",
                                          "SURVIVED toy.x_double__mutmut_2"]


def test_it_refuses_tests_that_fail_with_no_mutant_active(tmp_path):
    # A test failing anyway would count every mutant as killed.
    result = _run(tmp_path, """
        from toy import double

        def test_double():
            assert double(3) == 7
        """, ["toy.x_double__mutmut_2"])
    assert result.returncode != 0
    assert "the tests fail with no mutant active" in result.stderr
    assert "SURVIVED" not in result.stdout and "KILLED" not in result.stdout


def test_limits_turn_a_hang_into_timeout_and_a_runaway_allocation_into_killed(tmp_path):
    result = _run(tmp_path, """
        from toy import double

        def test_double():
            assert double(3) == 6
        """, ["toy.x_double__mutmut_3", "toy.x_double__mutmut_4", "toy.x_double__mutmut_2"],
        limits=("--seconds", "3", "--memory-gb", "4"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["TIMEOUT toy.x_double__mutmut_3",
                                          "KILLED toy.x_double__mutmut_4",
                                          "SURVIVED toy.x_double__mutmut_2"]
