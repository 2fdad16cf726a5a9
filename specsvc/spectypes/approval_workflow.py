"""Semantic checks of ``approval-workflow`` specs: references and termination."""

from __future__ import annotations

from typing import Any

TERMINALS = ("approved", "rejected")
_MOVES = ("on_approve", "on_reject")

Problem = dict[str, Any]
Step = dict[str, Any]


def check(data: dict[str, Any]) -> list[Problem]:
    """Problems the schema cannot see, each at the path of the field at fault."""
    steps: list[Step] = data["steps"]
    first_index: dict[str, int] = {}
    problems = [p for i, step in enumerate(steps) for p in _id_problems(i, step, first_index)]
    if "start" in data and data["start"] not in first_index:
        problems.append(_problem("/start", f"no step has the id {data['start']!r}"))
    for index, step in enumerate(steps):
        problems += _move_problems(index, step, first_index)
        problems += _approver_problems(index, step)
    problems += _stuck_steps(steps, first_index)
    return problems


def _id_problems(index: int, step: Step, first_index: dict[str, int]) -> list[Problem]:
    step_id = step["id"]
    path = f"/steps/{index}/id"
    if step_id in TERMINALS:
        return [_problem(path, f"{step_id!r} is a terminal and cannot be a step id")]
    if step_id in first_index:
        first = f"/steps/{first_index[step_id]}"
        return [_problem(path, f"duplicate step id {step_id!r} (first at {first})")]
    first_index[step_id] = index
    return []


def _move_problems(index: int, step: Step, first_index: dict[str, int]) -> list[Problem]:
    problems = []
    for move in _MOVES:
        target, path = step[move], f"/steps/{index}/{move}"
        if target == step["id"] and target not in TERMINALS:
            problems.append(_problem(path, "must name another step, not the step itself"))
        elif target not in first_index and target not in TERMINALS:
            message = f"{target!r} is neither a step id nor approved/rejected"
            problems.append(_problem(path, message))
    return problems


def _approver_problems(index: int, step: Step) -> list[Problem]:
    roles = step["approvers"].get("roles", [])
    users = step["approvers"].get("users", [])
    if not roles and not users:
        return [_problem(f"/steps/{index}/approvers", "needs at least one role or user")]
    if not roles and step["min_approvals"] > len(users):
        message = f"needs {step['min_approvals']} approvals but only {len(users)} users can approve"
        return [_problem(f"/steps/{index}/min_approvals", message)]
    return []


def _stuck_steps(steps: list[Step], first_index: dict[str, int]) -> list[Problem]:
    finishing = set(TERMINALS)
    unique = [steps[index] for index in first_index.values()]
    # Grow the set of steps with a path to a terminal until nothing changes.
    grew = True
    while grew:
        before = len(finishing)
        finishing |= {s["id"] for s in unique if {s[move] for move in _MOVES} & finishing}
        grew = len(finishing) > before
    return [
        _problem(f"/steps/{index}", f"step {step_id!r} can never reach approved or rejected")
        for step_id, index in first_index.items()
        if step_id not in finishing
    ]


def _problem(path: str, message: str) -> Problem:
    return {"path": path, "message": message}
