"""Every failure the language catches, one file each under tests/data/invalid/, with the exact
wording pinned: the messages are the user interface of `orchestrate validate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.compile.validate import check_file

INVALID = Path(__file__).resolve().parent.parent / "data" / "invalid"

EXPECTED = {
    "as-without-for-each": [
        "as-without-for-each.yaml:7:34: steps.a: 'as' needs 'for_each' (remove 'as', or add for_each: \"{{ inputs.items }}\")",
    ],
    "condition-not-an-expression": [
        "condition-not-an-expression.yaml:8:24: steps.s1.when: 'false' is text, not an expression, so it is always true (write it as when: \"{{ false }}\")",
        "condition-not-an-expression.yaml:9:24: steps.s2.when: 'steps.judge.output.ok' is text, not an expression, so it is always true (write it as when: \"{{ steps.judge.output.ok }}\")",
        'condition-not-an-expression.yaml:10:24: steps.s3.when: when must be one {{ expression }}: text around one is always true (put the whole condition inside one pair of braces, e.g. "{{ steps.review.output.approved and not steps.fix.ran }}")',
        "condition-not-an-expression.yaml:11:28: steps.s4.for_each: 'inputs.xs' is text, not an expression, so it is never a list (write it as for_each: \"{{ inputs.xs }}\")",
        "condition-not-an-expression.yaml:15:14: steps.lp.loop.until: 'loop.index > 1' is text, not an expression, so it is always true (write it as until: \"{{ loop.index > 1 }}\")",
    ],
    "bad-api-version": [
        "bad-api-version.yaml:1:13: apiVersion: expected 'orchestrate/v1', got 'orchestrate/v2'",
    ],
    "bad-enum": [
        "bad-enum.yaml:10:22: steps.a.output.format: 'jsn' is not one of: text, json (did you mean 'json'?)",
    ],
    "bad-env-ref": [
        "bad-env-ref.yaml:6:21: agents.writer.tool_env.KEY: invalid environment reference '${env:MY-KEY}' (write ${env:NAME}, NAME being letters, digits and _, not starting with a digit)",
    ],
    "bad-step-name": [
        "bad-step-name.yaml:7:3: steps: invalid step name 'Draft-1' (use a lowercase identifier [a-z_][a-z0-9_]*, e.g. 'draft_1')",
    ],
    "bad-name-read-as-fixed": [  # read by the fixed names: no "did you mean 'Draft'?"
        "bad-name-read-as-fixed.yaml:5:3: agents: invalid agent name 'Writer' (use a lowercase identifier [a-z_][a-z0-9_]*, e.g. 'writer')",
        "bad-name-read-as-fixed.yaml:7:3: inputs: invalid input name 'Topic' (use a lowercase identifier [a-z_][a-z0-9_]*, e.g. 'topic')",
        "bad-name-read-as-fixed.yaml:9:3: steps: invalid step name 'Draft' (use a lowercase identifier [a-z_][a-z0-9_]*, e.g. 'draft')",
        "bad-name-read-as-fixed.yaml:13:12: steps.review.agent: invalid agent name 'Writer' (use a lowercase identifier [a-z_][a-z0-9_]*, e.g. 'writer')",
    ],
    "comma-in-flow-value": [
        "comma-in-flow-value.yaml:7:44: steps.a: unknown key 'short and sweet' (a comma ends an unquoted value inside {...}: quote it, e.g. prompt: \"Write a poem, short and sweet\")",
    ],
    "depends-on": [
        "depends-on.yaml:12:5: steps.b: unknown key 'depends_on' (did you mean 'needs'?)",
    ],
    "output-as-format": [
        "output-as-format.yaml:10:13: steps.a.output: expected a mapping, got a string (write output: {format: json})",
    ],
    "text-output-attribute": [  # review's is JSON; split('.') is what text allows
        "text-output-attribute.yaml:11:13: steps.title.prompt: step 'draft' has text output, which has no attribute 'title' (read the whole text as steps.draft.output, or give 'draft' output: {format: json} to read fields of a JSON reply)",
    ],
    "body-step-read-outside-loop": [
        "body-step-read-outside-loop.yaml:13:11: outputs.report: step 'rewrite' is inside loop 'revise' (read its last iteration as steps.revise.output.rewrite)",
    ],
    "broken-sections": [  # unreadable inputs, a damaged agent: the rest is still checked
        "broken-sections.yaml:4:9: inputs: expected a mapping, got a list",
        "broken-sections.yaml:6:34: agents.writer: unknown key 'tols' (did you mean 'tools'?)",
        "broken-sections.yaml:9:5: steps.a: dependency cycle: a -> b -> a (a step cannot depend on itself through needs or templates: break one link)",
        "broken-sections.yaml:10:13: steps.a.prompt: unknown filter 'uper' (did you mean 'upper'?)",
        "broken-sections.yaml:12:12: steps.b.agent: unknown agent 'editor' (declare it under agents:)",
        "broken-sections.yaml:14:14: steps.b.timeout: expected a number, got a string",
        "broken-sections.yaml:17:10: outputs.count: expected a string, got an integer (quote the value to make it a string)",
    ],
    "cycle": [
        "cycle.yaml:7:6: steps.a: dependency cycle: a -> b -> c -> a (a step cannot depend on itself through needs or templates: break one link)",
    ],
    "duplicate-key": [
        "duplicate-key.yaml:10:5: steps.a: duplicate key 'prompt' (it is already set at line 9; YAML would silently keep the last one)",
    ],
    "dynamic-step-ref": [
        "dynamic-step-ref.yaml:12:13: steps.b.prompt: steps must be read by name, e.g. steps.research.output (a computed steps[...] hides the dependency: name each step, and list steps that must run first in needs)",
    ],
    "empty-file": [
        "empty-file.yaml: expected one YAML document, found an empty file (a pipeline starts with 'apiVersion: orchestrate/v1' and 'kind: Pipeline')",
    ],
    "env-in-prompt": [
        "env-in-prompt.yaml:9:13: steps.a.prompt: ${env:...} is not allowed in templates (templates are recorded in run records: declare an input with secret: true and read it as {{ inputs.<name> }})",
    ],
    "input-default-type": [
        "input-default-type.yaml:7:35: inputs.count.default: expected an integer, got a string (the default must match the input's type)",
    ],
    "invalid-output-schema": [
        "invalid-output-schema.yaml:12:15: steps.a.output.schema: invalid JSON Schema: at 'type': 'objekt' is not valid under any of the given schemas",
    ],
    "jinja-syntax-block": [
        "jinja-syntax-block.yaml:12:7: steps.a.prompt: template syntax error: Expected an expression, got 'end of statement block'",
    ],
    "jinja-syntax-condition": [
        "jinja-syntax-condition.yaml:13:11: steps.b.when: template syntax error: unexpected 'end of print statement'",
    ],
    "jinja-syntax-output": [
        "jinja-syntax-output.yaml:9:11: outputs.result: template syntax error: Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
    ],
    "jinja-syntax-prompt": [
        "jinja-syntax-prompt.yaml:9:13: steps.a.prompt: template syntax error: unexpected '}'",
    ],
    "loop-body-reads-its-loop": [
        "loop-body-reads-its-loop.yaml:11:42: steps.revise.loop.steps.rewrite.prompt: a loop body cannot read its own loop step 'revise' (read the previous iteration with loop.previous.<step>)",
    ],
    "loop-var-outside-loop": [
        "loop-var-outside-loop.yaml:9:13: steps.a.prompt: 'loop' is only defined inside a loop body (loop.index, loop.first and loop.previous exist in loop.steps and loop.until)",
    ],
    "loop-with-agent": [
        "loop-with-agent.yaml:8:5: steps.revise: a loop step takes no 'agent' (put agent steps under loop.steps)",
    ],
    "many-problems": [
        "many-problems.yaml:7:21: steps.research.agent: unknown agent 'researcher' (declare it under agents:)",
        "many-problems.yaml:7:41: steps.research.prompt: undeclared input 'topic' (declare it under inputs:)",
        "many-problems.yaml:9:5: steps.draft: dependency cycle: draft -> review -> draft (a step cannot depend on itself through needs or templates: break one link)",
        "many-problems.yaml:10:13: steps.draft.prompt: unknown step 'reserch' (did you mean 'research'?)",
    ],
    "missing-prompt": [
        "missing-prompt.yaml:7:6: steps.a: missing required key 'prompt' (a step has an agent and a prompt, or a loop)",
    ],
    "missing-steps": [
        "missing-steps.yaml:1:1: missing required key 'steps'",
    ],
    "needs-not-a-list": [
        "needs-not-a-list.yaml:11:12: steps.b.needs: expected a list, got a string (write a list, e.g. [a])",
    ],
    "nested-loop": [
        "nested-loop.yaml:12:11: steps.outer.loop.steps.inner: loops cannot be nested (make the inner loop a separate loop step after this one)",
    ],
    "ref-with-fields": [
        "ref-with-fields.yaml:5:25: agents.editor: an agent with 'ref' cannot also set 'tools' (a provisioned agent is defined in its own Agent file: remove these keys, or remove 'ref' to define the agent inline)",
    ],
    "retries-zero": [
        "retries-zero.yaml:7:43: steps.a.retries: must be at least 1, got 0",
    ],
    "schema-and-semantic-errors": [  # 'promt' explains the missing prompt: said once
        "schema-and-semantic-errors.yaml:10:12: steps.research.agent: unknown agent 'reseacher' (did you mean 'researcher'?)",
        "schema-and-semantic-errors.yaml:11:5: steps.research: unknown key 'promt' (did you mean 'prompt'?)",
        "schema-and-semantic-errors.yaml:14:13: steps.draft.prompt: unknown step 'reserch' (did you mean 'research'?)",
        "schema-and-semantic-errors.yaml:17:13: steps.review.prompt: template syntax error: unexpected '}'",
    ],
    "schema-without-json": [
        "schema-without-json.yaml:11:7: steps.a.output: 'schema' needs format: json (add format: json next to schema)",
    ],
    "self-reference": [
        "self-reference.yaml:9:13: steps.a.prompt: step 'a' reads its own output (a step can only depend on steps that run before it)",
    ],
    "undeclared-input": [
        "undeclared-input.yaml:7:10: inputs.topic: input 'topic' is never read (read it as {{ inputs.topic }} or remove it)",
        "undeclared-input.yaml:11:13: steps.a.prompt: undeclared input 'topc' (did you mean 'topic'?)",
    ],
    "spec-and-compile-problems": [
        "spec-and-compile-problems.yaml:7:6: steps.a: missing required key 'prompt' (a step has an agent and a prompt, or a loop)",
        "spec-and-compile-problems.yaml:8:14: steps.b.agent: unknown agent 'writr' (did you mean 'writer'?)",
        "spec-and-compile-problems.yaml:10:5: steps.c: 'as' needs 'for_each' (remove 'as', or add for_each: \"{{ inputs.items }}\")",
        "spec-and-compile-problems.yaml:10:5: steps.c: missing required key 'agent' (a step has an agent and a prompt, or a loop)",
    ],
    "unknown-agent": [
        "unknown-agent.yaml:5:11: agents.writer: agent 'writer' is not used by any step (remove it, or give it a step)",
        "unknown-agent.yaml:7:14: steps.a.agent: unknown agent 'writr' (did you mean 'writer'?)",
    ],
    "unknown-filter": [
        "unknown-filter.yaml:10:13: steps.b.prompt: unknown filter 'uper' (did you mean 'upper'?)",
    ],
    "unknown-key": [
        "unknown-key.yaml:9:5: steps.a: unknown key 'promt' (did you mean 'prompt'?)",
    ],
    "unknown-loop-body-step": [
        "unknown-loop-body-step.yaml:10:14: steps.revise.loop.until: loop 'revise' has no body step 'rewrit' (did you mean 'rewrite'?)",
        "unknown-loop-body-step.yaml:14:11: outputs.report: loop 'revise' has no body step 'rewrit' (did you mean 'rewrite'?)",
    ],
    "unknown-shared-block": [
        "unknown-shared-block.yaml:7:28: agents.writer.shared_blocks[0]: unknown shared block 'team_note' (did you mean 'team_notes'?)",
    ],
    "unknown-step-attribute": [
        "unknown-step-attribute.yaml:10:13: steps.b.prompt: step 'a' has no attribute 'outptu' (did you mean 'output'?)",
    ],
    "unknown-step-in-needs": [
        "unknown-step-in-needs.yaml:11:13: steps.draft.needs[0]: unknown step 'reserch' (did you mean 'research'?)",
    ],
    "unknown-step-in-template": [
        "unknown-step-in-template.yaml:10:13: steps.draft.prompt: unknown step 'reserch' (did you mean 'research'?)",
    ],
    "unknown-variable": [
        "unknown-variable.yaml:9:13: steps.a.prompt: unknown variable 'paper' (templates here can read inputs, steps)",
    ],
    "unquoted-template": [
        'unquoted-template.yaml:11:14: steps.a.prompt: a mapping key must be a plain value, not a mapping or list (an unquoted template? quote values that start with "{{", e.g. prompt: "{{ inputs.topic }}")',
    ],
    "wrong-type": [
        "wrong-type.yaml:9:13: steps.a.prompt: expected a string, got a list",
    ],
    "yaml-and-semantic-errors": [  # the duplicated prompt and the unquoted one are left out
        "yaml-and-semantic-errors.yaml:12:5: steps.a: duplicate key 'prompt' (it is already set at line 11; YAML would silently keep the last one)",
        "yaml-and-semantic-errors.yaml:14:5: steps.b: dependency cycle: b -> c -> b (a step cannot depend on itself through needs or templates: break one link)",
        'yaml-and-semantic-errors.yaml:18:14: steps.c.prompt: a mapping key must be a plain value, not a mapping or list (an unquoted template? quote values that start with "{{", e.g. prompt: "{{ inputs.topic }}")',
    ],
    "jinja-unbalanced": [
        "jinja-unbalanced.yaml:9:13: steps.a.prompt: template syntax error: unexpected ')'",
    ],
    "template-too-deep": [
        "template-too-deep.yaml:9:13: steps.a.prompt: template expression nested deeper than 100 levels (split it into smaller templates or steps; a limit that keeps loading safe)",
        "template-too-deep.yaml:12:13: steps.b.prompt: brackets nested deeper than 32 levels in a template (split it into smaller templates or steps; a limit that keeps loading safe)",
    ],
    "yaml-alias-bomb": [
        "yaml-alias-bomb.yaml:6:38: x-lol.e[7]: aliases expand to more than 100,000 values (an alias (*name) repeats everything its anchor holds: repeat less, or write the parts out; a limit that keeps loading safe)",
    ],
    "yaml-bad-values": [
        "yaml-bad-values.yaml:9:13: steps.a.prompt: unsupported !!binary value (write text (a string), a number, a boolean, a list or a mapping)",
        "yaml-bad-values.yaml:10:14: steps.a.timeout: invalid !!int value 'zz' (remove the tag, or write a value of that type)",
        "yaml-bad-values.yaml:11:29: steps.a.retries.max_attempts: invalid !!bool value 'maybe' (remove the tag, or write a value of that type)",
        "yaml-bad-values.yaml:11:52: steps.a.retries.backoff: integer with more than 4300 digits (quote it to make it a string)",
        "yaml-bad-values.yaml:12:18: steps.a.description: invalid !!timestamp value 'x' (remove the tag, or write a value of that type)",
    ],
    "yaml-empty-float": [  # PyYAML raises IndexError on it
        "yaml-empty-float.yaml:7:43: steps.a.timeout: invalid !!float value '' (remove the tag, or write a value of that type)",
    ],
    "yaml-recursive-alias": [
        "yaml-recursive-alias.yaml:10:13: steps.a.needs[0]: alias '*a' is used inside its own anchor (a value cannot contain itself: copy the part instead)",
    ],
    "yaml-too-deep": [
        "yaml-too-deep.yaml:12:75: steps.a.output.schema[0][0][0][0]...: nested deeper than 64 levels (flatten the structure; a limit that keeps loading safe)",
    ],
    "yaml-syntax": [
        "yaml-syntax.yaml:6:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 5)",
    ],
    "yaml-tab-indent": [
        "yaml-tab-indent.yaml:7:1: invalid YAML: found character that cannot start any token (indent with spaces, not tabs)",
    ],
}


def test_every_invalid_file_has_an_expectation():
    assert sorted(p.stem for p in INVALID.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_file_reports_exactly(name):
    issues = check_file(str(INVALID / f"{name}.yaml"))
    lines = [issue.format().replace(f"{INVALID}/", "") for issue in issues]
    assert lines == EXPECTED[name]
    assert any(issue.severity == "error" for issue in issues)


def test_warnings_next_to_errors_are_marked_as_warnings():
    issues = check_file(str(INVALID / "unknown-agent.yaml"))
    assert [(i.path, i.severity) for i in issues] == [
        ("agents.writer", "warning"),
        ("steps.a.agent", "error"),
    ]
