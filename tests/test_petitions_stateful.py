"""The petition state machine under random sequences of real `grid petition` commands.

Hypothesis drives any operator through any verb, in any order. The expectation is written
here independently of services/petition_workflow.py, straight from GUIDE §3: which verb is
possible from which state, who may use it, and where it leads. After every command:
the status is a declared state, a refused command changed nothing, an accepted one moved
exactly as GUIDE §3 says and appended exactly one history entry, and the history is an
unbroken chain (each entry starts where the previous one ended) as long as the version.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.conftest import invoke

STATES = {
    "submitted",
    "assigned",
    "contacted",
    "in_progress",
    "escalated",
    "resolved",
    "closed",
    "rejected",
    "duplicate",
}
RUNNING = {"submitted", "assigned", "contacted", "in_progress", "escalated"}
WORKING = {"contacted", "in_progress"}
STAY = None

# verb -> [(from states, to state (STAY: unchanged), who may)], from GUIDE §3 and the issue.
# who: "sec" the community secretary, "assignee" the grid worker it is assigned to, "dept" the
# department it is escalated to, "admin".
EXPECTED: dict[str, list[tuple[set[str], str | None, set[str]]]] = {
    "assign": [({"submitted", "assigned", "contacted", "in_progress"}, "assigned", {"sec", "admin"})],
    "contact": [({"assigned"}, "contacted", {"assignee", "admin"}), (WORKING, STAY, {"assignee", "admin"})],
    "start": [({"contacted"}, "in_progress", {"assignee", "admin"})],
    "escalate": [
        (WORKING, "escalated", {"assignee", "sec", "admin"}),
        ({"escalated"}, "escalated", {"dept", "sec", "admin"}),
    ],
    "send-back": [({"escalated"}, "in_progress", {"dept", "admin"})],
    "resolve": [
        (WORKING, "resolved", {"assignee", "sec", "admin"}),
        ({"escalated"}, "resolved", {"dept", "sec", "admin"}),
    ],
    "rate": [({"resolved"}, "RATE", {"sec", "admin"})],
    "close": [({"resolved"}, "closed", {"sec", "admin"})],
    "reject": [({"submitted", "assigned", "contacted"}, "rejected", {"sec", "admin"})],
    "merge": [({"submitted", "assigned", "contacted", "in_progress"}, "duplicate", {"sec", "admin"})],
    "reopen": [
        ({"resolved", "closed"}, "in_progress", {"sec", "admin"}),
        ({"rejected", "duplicate"}, "submitted", {"sec", "admin"}),
    ],
}
# Weighted towards those who can act, so that runs get deep (escalated, resolved, reopened...).
ACTORS = ["admin", "admin", "admin", "sec1", "sec1", "wg11", "wg11", "wg12", "dsifa", "dsifa", "sec2", "view"]
G1 = "620402001001001"


def relations(actor: str, p: dict) -> set[str]:
    """How `actor` of the test city stands to a petition of grid G1 (community 1)."""
    if actor == "admin":
        return {"admin"}
    if actor == "sec1":
        return {"sec"}
    if actor in ("wg11", "wg12"):
        rel = {"assignee"} if p["assignee"] == actor else set()
        if actor == "wg11" or rel:  # wg11 works grid G1; wg12 only reaches what is assigned to them
            rel.add("reach")
        return rel
    if actor == "dsifa" and p["dept"] == "sifa":
        return {"dept", "reach"}
    return set()  # sec2 (another community), view (reads only), dsifa before it is escalated there


def expect(verb: str, args: dict, actor: str, p: dict, sibling: dict) -> tuple[int, str | None]:
    """(exit code, status afterwards) that GUIDE §3 predicts."""
    rel = relations(actor, p)
    if actor == "view":
        return 4, None
    if not rel:
        return 4, None  # outside the operator's reach
    rows = [r for r in EXPECTED[verb] if p["status"] in r[0]]
    if not rows:
        return 5, None
    rows = [r for r in rows if r[2] & rel]
    if not rows:
        return 4, None
    _src, to, _who = rows[0]
    status = p["status"]
    # guards and details
    if verb == "rate":
        if p["rating"] is not None:
            return 5, None
        return 0, ("in_progress" if args["rating"] == "unsatisfied" else "resolved")
    if verb == "close" and p["rating"] is None:
        return 5, None  # the evaluation period has not lapsed (the clock stands still here)
    if verb == "assign" and p["assignee"] == args["to"]:
        return 5, None
    if verb == "escalate" and status == "escalated" and p["dept"] == args["dept"]:
        return 5, None
    if verb == "merge" and sibling["status"] not in RUNNING:
        return 5, None
    return 0, (status if to is STAY else to)


def run(*args: str):
    return invoke(*args, expect=None)


def show(number: str) -> dict:
    return invoke("--as", "admin", "petition", "show", number, "--json").json()


VERBS = st.sampled_from(sorted(EXPECTED))


def check_chain(p: dict, sibling_number: str) -> None:
    assert p["status"] in STATES
    h = p["history"]
    assert h[0]["event"] == "file" and h[0]["from"] is None and h[0]["to"] == "submitted"
    assert [e["seq"] for e in h] == list(range(1, len(h) + 1))
    for prev, cur in zip(h, h[1:]):
        assert cur["from"] == prev["to"]
        assert cur["at"] >= prev["at"]
    assert h[-1]["to"] == p["status"]
    assert p["version"] == len(h)
    assert (p["due_at"] is not None) == (p["status"] in RUNNING)
    if p["status"] == "duplicate":
        assert p["merged_into"] == sibling_number


class PetitionMachine(RuleBasedStateMachine):
    @initialize()
    def file_two(self) -> None:
        def one(text: str) -> str:
            return invoke(
                "--as",
                "sec1",
                "petition",
                "file",
                "--text",
                text,
                "--category",
                "help",
                "--channel",
                "qr",
                "--grid",
                G1,
                "--phone",
                "13912345678",
            ).stdout.strip()

        self.number = one("路灯不亮")
        self.sibling = one("另一件诉求")
        self.main = show(self.number)
        self.sib = show(self.sibling)

    @rule(actor=st.sampled_from(ACTORS), verb=VERBS, data=st.data())
    def act(self, actor: str, verb: str, data: st.DataObject) -> None:
        before = self.main
        args: dict[str, str] = {}
        extra: list[str] = []
        if verb == "assign":
            args["to"] = data.draw(st.sampled_from(["wg11", "wg12"]))
            extra = ["--to", args["to"]]
        elif verb == "contact":
            extra = ["--how", data.draw(st.sampled_from(["phone", "visit", "sms"])), "--outcome", "已沟通"]
        elif verb == "escalate":
            args["dept"] = data.draw(st.sampled_from(["sifa", "zhujian"]))
            extra = ["--dept", args["dept"], "--reason", "需要部门处理"]
        elif verb in ("send-back", "reject", "reopen"):
            extra = ["--reason", "理由"]
        elif verb == "resolve":
            extra = ["--result", "已办理"]
        elif verb == "rate":
            args["rating"] = data.draw(st.sampled_from(["satisfied", "basically_satisfied", "unsatisfied"]))
            extra = [args["rating"]]
        elif verb == "merge":
            extra = ["--into", self.sibling]
        code, status = expect(verb, args, actor, before, self.sib)
        r = run("--as", actor, "petition", verb, self.number, *extra)
        assert r.exit_code == code, (actor, verb, extra, before["status"], r)
        after = show(self.number)
        if code == 0:
            assert after["status"] == status, (verb, before["status"], after["status"])
            assert after["version"] == before["version"] + 1
            assert len(after["history"]) == len(before["history"]) + 1
            last = after["history"][-1]
            assert (last["event"], last["from"], last["to"], last["actor"]) == (
                verb.replace("-", "_"),
                before["status"],
                status,
                actor,
            )
        else:
            assert after == before, "a refused command changed nothing"
            assert len(r.stderr.strip().splitlines()) == 1  # one line that says why (and what is allowed)
        self.main = after
        self.sib = show(self.sibling)
        check_chain(self.main, self.sibling)
        check_chain(self.sib, self.sibling)
        assert self.sib["status"] == "submitted"


def test_no_sequence_of_commands_breaks_the_workflow(grid, city, monkeypatch):
    monkeypatch.setenv("GRID_NOW", "2026-09-30 09:00")
    run_state_machine_as_test(
        PetitionMachine,
        settings=settings(
            max_examples=6, stateful_step_count=14, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
