"""Login: throttling of wrong passwords, and the start-up checks of the web app's login settings
(through both `python app.py` and `python -m rag serve`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from rag.serve.login import Login


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_passwords_lock_the_name_for_a_while():
    clock, pauses = Clock(), []
    login = Login("staff", "s3cret", max_failures=3, window=60, lockout=120, pause=0.5, clock=clock, sleep=pauses.append)
    assert login("staff", "s3cret") and not login("staff", "S3cret") and not login("", "") and not login("Staff", "s3cret")
    assert pauses == [0.5, 0.5, 0.5]  # every wrong try pays a pause
    assert not login("staff", "guess1") and not login("staff", "guess2")  # third wrong try for "staff"
    assert login.locked("staff") and not login("staff", "s3cret")  # locked: even the right password fails
    clock.now += 121
    assert not login.locked("staff") and login("staff", "s3cret")
    assert not login("staff", "x") and not login("staff", "y")
    clock.now += 61  # failures older than the window are forgotten
    assert not login("staff", "z") and not login.locked("staff")


# the web chat's two entry points: the README's `python app.py` and the package's subcommand
ENTRY_POINTS = pytest.mark.parametrize("entry", [["app.py"], ["-m", "rag", "serve"]], ids=["app.py", "rag-serve"])


@ENTRY_POINTS
def test_only_one_login_variable_refuses_to_start(entry):
    env = dict(os.environ, RAG_USERNAME="staff")
    env.pop("RAG_PASSWORD", None)
    done = subprocess.run([sys.executable, *entry], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "RAG_PASSWORD" in done.stderr and "Traceback" not in done.stderr


@ENTRY_POINTS
def test_a_public_link_without_a_login_refuses_to_start(entry):
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_USERNAME", "RAG_PASSWORD")}
    done = subprocess.run([sys.executable, *entry, "--share"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--share publishes the app" in done.stderr and "Traceback" not in done.stderr


@ENTRY_POINTS
def test_listening_on_all_interfaces_without_a_login_warns(tmp_path, entry):
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_USERNAME", "RAG_PASSWORD")}
    env.update(RAG_INDEX_DIR=str(tmp_path / "index"), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, *entry, "--host", "0.0.0.0", "--port", "0"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stderr.readline()  # printed before anything loads
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert line.startswith("warning: listening on 0.0.0.0 without a login")


def test_the_ask_api_answers_in_one_shape_even_when_it_fails():
    """Issue 16, defect 8: the error reply lacked `span` and `passages`."""
    from rag.serve.render import answer_json
    from rag.serve.web import build_app
    from rag.types import Answer

    class Broken:
        reader = type("Reader", (), {"name": "rules"})()
        reader_status = ""

        def ask_in_context(self, question, history=()):
            raise RuntimeError("boom")

    class EmptyKB:
        def documents(self):
            return []

    demo = build_app(Broken(), EmptyKB())
    ask_api = next(f.fn for f in demo.fns.values() if f.api_name == "ask")
    reply = ask_api("免申即享包括哪些政策?")
    normal = answer_json(Answer(question="q", text="t", refused=True), {})
    assert set(reply) == set(normal) and reply["refused"] and reply["passages"] == [] and reply["span"] == ""
    assert isinstance(reply["notice"], str) and reply["notice"]


def test_the_web_login_is_awaited_and_a_flood_of_names_does_not_reset_a_count():
    import asyncio
    import inspect

    clock = Clock()
    login = Login("staff", "s3cret", max_failures=3, window=60, lockout=120, pause=0.0, clock=clock)
    assert inspect.iscoroutinefunction(login.check)  # Gradio awaits it (a sync pause would block its event loop)
    assert asyncio.run(login.check("staff", "s3cret")) and not asyncio.run(login.check("staff", "nope"))
    assert not login("staff", "nope2")
    for n in range(3000):  # made-up names
        login.verify(f"user{n}", "x")
    assert not login.verify("staff", "nope3") and login.locked("staff")  # the third failure still counts
