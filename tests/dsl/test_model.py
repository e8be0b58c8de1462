"""Helpers over the step tree of dsl.model."""

from __future__ import annotations

from specql.dsl import model as m


def test_replace_steps_reaches_nested_steps_and_keeps_what_it_does_not_replace() -> None:
    inner = m.RejectStep(error="inner")
    loop = m.ForeachStep(variable="r", query="SELECT 1", body=[m.RejectStep(error="in_loop")])
    branch = m.IfStep(condition="a", then=[inner], else_=[loop])
    steps = [m.RejectStep(error="top"), branch]

    def rename(step: m.Step) -> m.Step:
        if isinstance(step, m.RejectStep):
            return m.RejectStep(error=step.error.upper())
        return step

    out = m.replace_steps(steps, rename)
    assert out[1] is branch  # kept, its nested lists replaced on it
    assert [s.error for s in m.walk_steps(out) if isinstance(s, m.RejectStep)] == [
        "TOP",
        "INNER",
        "IN_LOOP",
    ]


def test_a_replaced_step_is_not_entered() -> None:
    branch = m.IfStep(condition="a", then=[m.RejectStep(error="inner")])
    seen: list[str] = []

    def replace(step: m.Step) -> m.Step:
        seen.append(step.kind)
        return m.RawSqlStep(sql="SELECT 1") if step is branch else step

    out = m.replace_steps([branch], replace)
    assert [s.kind for s in out] == ["raw_sql"]
    assert seen == ["if"]
