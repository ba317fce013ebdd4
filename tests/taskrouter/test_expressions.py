"""TaskRouter's expression language: what matches, what is an error, and where.

The sourced rules are in docs/taskrouter.md ("The expression language"); the decisions
Twilio leaves open are listed in the docstring of tasks_app/taskrouter/expressions.py and
pinned here.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from types import MappingProxyType

import pytest

from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.expressions import (
    Expression,
    ExpressionSyntaxError,
    check_expression,
    matches,
    parse_expression,
)

TASK = {
    "language": "en",
    "type": "ticket",
    "customer_value": "Gold",
    "priority": 5,
    "skill_rating": 5.5,
    "vip": True,
    "closed": False,
    "nothing": None,
    "skills": ["support", "billing", 3, True],
    "languages": ["english", "spanish"],
    "count_text": "5",
    "object": {"param": "banana", "deep": {"inner": {"value": 42}}},
    "calls": [
        {"from": "+15551234567", "minutes": 3},
        {"from": "+15557654321", "minutes": 12},
    ],
    "matrix": [[1, 2], [3, 4]],
    "note": "Customer said: it's broken \\ badly",
    "preferred": "billing",
    "threshold": 5,
}


def check(expression: str, expected: bool, attributes: dict | None = None) -> None:
    assert matches(expression, TASK if attributes is None else attributes) is expected


def syntax_error(text: str) -> ExpressionSyntaxError:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression(text)
    return caught.value


# --- Scalar comparison operators ------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("language == 'en'", True, id="double-equals-matches"),
        pytest.param("language == 'fr'", False, id="double-equals-differs"),
        pytest.param("language = 'en'", True, id="single-equals-alias"),
        pytest.param("language != 'fr'", True, id="not-equals-matches"),
        pytest.param("language != 'en'", False, id="not-equals-same-value"),
        pytest.param("priority > 4", True, id="greater-than"),
        pytest.param("priority > 5", False, id="greater-than-equal-value"),
        pytest.param("priority >= 5", True, id="greater-or-equal"),
        pytest.param("priority < 6", True, id="less-than"),
        pytest.param("priority < 5", False, id="less-than-equal-value"),
        pytest.param("priority <= 5", True, id="less-or-equal"),
        pytest.param("priority <= 4", False, id="less-or-equal-false"),
        pytest.param("customer_value CONTAINS 'ol'", True, id="contains-substring"),
        pytest.param("customer_value CONTAINS 'gold'", False, id="contains-is-case-sensitive"),
        pytest.param("customer_value CONTAINS 'Gold'", True, id="contains-whole-string"),
        pytest.param("customer_value CONTAINS ''", True, id="contains-empty-string"),
    ],
)
def test_comparison_operators_compare_an_attribute_with_a_constant(expression, expected):
    check(expression, expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param('language == "en"', True, id="double-quotes"),
        pytest.param("language == 'en'", True, id="single-quotes"),
        pytest.param('note == "Customer said: it\'s broken \\\\ badly"', True, id="escaped-bs"),
        pytest.param("note == 'Customer said: it\\'s broken \\\\ badly'", True, id="escaped-q"),
        pytest.param("'it\\'s' == \"it's\"", True, id="escaped-quote-equals-other-style"),
        pytest.param("'a\\nb' == 'a\\\\nb'", True, id="unknown-escape-keeps-backslash"),
        pytest.param("language == 'EN'", False, id="strings-are-case-sensitive"),
        pytest.param("language == 'en '", False, id="whitespace-in-strings-matters"),
    ],
)
def test_strings_accept_both_quote_styles_and_backslash_escapes(expression, expected):
    check(expression, expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("priority == 5", True, id="integer"),
        pytest.param("priority == 5.0", True, id="integer-equals-float"),
        pytest.param("skill_rating == 5.5", True, id="float"),
        pytest.param("skill_rating >= 5.1", True, id="float-ordering"),
        pytest.param("skill_rating > priority", True, id="float-vs-integer-reference"),
        pytest.param("priority > -1", True, id="negative-integer"),
        pytest.param("-1.5 < priority", True, id="negative-float-on-the-left"),
        pytest.param("0 != 1", True, id="documented-constant-inequality"),
        pytest.param("1 == 1", True, id="documented-match-all"),
        pytest.param("1 == 2", False, id="constant-false"),
        pytest.param("3.141529 > 3", True, id="documented-float-literal"),
    ],
)
def test_numbers_are_integers_or_floats_compared_numerically(expression, expected):
    check(expression, expected)


def test_numbers_parse_to_int_and_float_constants():
    tree = parse_expression("x IN [1, 1.0, -2, -2.5]").tree
    assert [type(v) for v in tree.right.value] == [int, float, int, float]
    assert tree.right.value == (1, 1.0, -2, -2.5)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("vip == true", True, id="true"),
        pytest.param("closed == false", True, id="false"),
        pytest.param("vip == TRUE", True, id="upper-case-true"),
        pytest.param("closed == False", True, id="capitalised-false"),
        pytest.param("vip != false", True, id="not-equals-boolean"),
        pytest.param("vip == 'true'", False, id="boolean-is-not-a-string"),
        pytest.param("vip == 1", False, id="true-is-not-one"),
        pytest.param("closed == 0", False, id="false-is-not-zero"),
        pytest.param("true == 1", False, id="constant-true-is-not-one"),
        pytest.param("vip > false", False, id="booleans-have-no-order"),
        pytest.param("(vip == true) OR (closed == true)", True, id="documented-boolean-example"),
    ],
)
def test_booleans_are_unquoted_case_insensitive_and_not_numbers(expression, expected):
    check(expression, expected)


# --- Array operators ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("skills HAS 'support'", True, id="has"),
        pytest.param("skills HAS 'sales'", False, id="has-missing-value"),
        pytest.param("skills >- 'billing'", True, id="has-alias"),
        pytest.param("skills HAS 3", True, id="has-number"),
        pytest.param("skills HAS 3.0", True, id="has-number-as-float"),
        pytest.param("skills HAS true", True, id="has-boolean"),
        pytest.param("languages HAS true", False, id="has-boolean-not-in-strings"),
        pytest.param("(skills HAS 'support') AND (languages HAS 'english')", True, id="doc-ex"),
        pytest.param("language IN ['en', 'es']", True, id="in"),
        pytest.param('language IN ["fr", "es"]', False, id="in-missing"),
        pytest.param("language <- ['en']", True, id="in-alias"),
        pytest.param("priority IN [1, 5]", True, id="in-numbers"),
        pytest.param("priority IN [1.0, 5.0]", True, id="in-int-matches-float"),
        pytest.param("vip IN [1]", False, id="in-boolean-is-not-one"),
        pytest.param("priority IN [true, 'x', 5]", True, id="in-mixed-types"),
        pytest.param("language IN []", False, id="in-empty-array"),
        pytest.param("language NOT IN ['fr', 'es']", True, id="not-in"),
        pytest.param("language NOT IN ['en', 'es']", False, id="not-in-present"),
        pytest.param("language NOT IN []", True, id="not-in-empty-array"),
        pytest.param("'support' IN skills", True, id="in-reference-array"),
        pytest.param("'sales' NOT IN skills", True, id="not-in-reference-array"),
        pytest.param("['a', 'b'] HAS 'a'", True, id="has-on-constant-array"),
        pytest.param("preferred IN skills", True, id="reference-in-reference"),
        pytest.param("skills HAS preferred", True, id="reference-has-reference"),
        pytest.param("language NOT IN languages", True, id="reference-not-in-reference"),
        pytest.param("'x' IN ['x']", True, id="constant-in-constant"),
    ],
)
def test_array_operators_test_membership(expression, expected):
    check(expression, expected)


# --- References -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("object.param != 'apple'", True, id="documented-dot-example"),
        pytest.param("object.param == 'banana'", True, id="one-level"),
        pytest.param("object.deep.inner.value == 42", True, id="several-levels"),
        pytest.param("calls[1].minutes == 12", True, id="index-then-key"),
        pytest.param("calls[0].from == '+15551234567'", True, id="first-element"),
        pytest.param("calls[ 1 ].minutes > 10", True, id="spaces-inside-brackets"),
        pytest.param("matrix[1][0] == 3", True, id="two-indexes"),
        pytest.param("skills[0] == 'support'", True, id="index-of-top-level-array"),
        pytest.param("task.in == 'x'", True, id="keyword-as-a-later-segment"),
        pytest.param("object.param == object.param", True, id="reference-on-both-sides"),
        pytest.param("priority == threshold", True, id="two-top-level-references"),
        pytest.param("'en' == language", True, id="constant-on-the-left"),
        pytest.param("4 < priority", True, id="constant-on-the-left-ordering"),
        pytest.param("'Gold' CONTAINS customer_value", True, id="constant-on-the-left-contains"),
        pytest.param("'Golden' CONTAINS customer_value", True, id="left-contains-substring"),
    ],
)
def test_references_follow_dots_and_indexes(expression, expected):
    attributes = {**TASK, "task": {"in": "x"}}
    check(expression, expected, attributes)


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("missing == 'x'", id="missing-key-equals"),
        pytest.param("missing != 'x'", id="missing-key-not-equals"),
        pytest.param("missing < 1", id="missing-key-ordering"),
        pytest.param("missing CONTAINS 'x'", id="missing-key-contains"),
        pytest.param("missing IN ['x']", id="missing-key-in"),
        pytest.param("missing NOT IN ['x']", id="missing-key-not-in"),
        pytest.param("missing HAS 'x'", id="missing-key-has"),
        pytest.param("nothing != 'x'", id="json-null-not-equals"),
        pytest.param("object.nope.deeper == 1", id="missing-nested-key"),
        pytest.param("calls[5].minutes > 0", id="index-out-of-range"),
        pytest.param("calls[2] != 'x'", id="index-just-past-the-end"),
        pytest.param("language[0] == 'e'", id="strings-are-not-indexable"),
        pytest.param("priority.value == 5", id="key-of-a-number"),
        pytest.param("object[0] != 1", id="index-of-an-object"),
        pytest.param("calls.minutes == 3", id="key-of-an-array"),
        pytest.param("missing == missing", id="null-equals-null"),
        pytest.param("skills HAS missing", id="has-null"),
    ],
)
def test_null_from_missing_keys_and_bad_indexes_never_matches(expression):
    check(expression, False)


# --- Type rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("count_text == 5", id="string-vs-number-equals"),
        pytest.param("count_text != 5", id="string-vs-number-not-equals"),
        pytest.param("priority > '4'", id="number-vs-string-ordering"),
        pytest.param("skills == ['support', 'billing', 3, true]", id="array-equals-array"),
        pytest.param("languages != 'english'", id="array-not-equals-scalar"),
        pytest.param("skills > 1", id="array-ordering"),
        pytest.param("languages CONTAINS 'english'", id="contains-on-an-array"),
        pytest.param("priority CONTAINS 5", id="contains-on-numbers"),
        pytest.param("language HAS 'e'", id="has-on-two-scalars"),
        pytest.param("language IN 'english'", id="in-is-not-substring"),
        pytest.param("language NOT IN 'fr'", id="not-in-with-scalar-on-the-right"),
        pytest.param("skills NOT IN [1]", id="not-in-with-array-on-the-left"),
        pytest.param("skills IN ['support']", id="in-with-array-on-the-left"),
        pytest.param("skills HAS ['support']", id="has-with-array-on-the-right"),
        pytest.param("object == 'banana'", id="object-equals-scalar"),
        pytest.param("object.deep != object.deep", id="object-not-equals-object"),
        pytest.param("'1' != 1", id="constant-string-vs-number"),
        pytest.param("['a'] == ['a']", id="constant-arrays-are-not-scalars"),
    ],
)
def test_mismatched_types_and_misused_operators_are_false(expression):
    check(expression, False)


def test_strings_are_ordered_lexicographically():
    check("language < 'es'", True)
    check("language > 'EN'", True)  # by code point: lower case sorts after upper case
    check("'apple' != 'orange'", True)


# --- Logic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # a = language == 'fr' (false), b = vip == true (true), c = priority > 10 (false).
        pytest.param("language == 'fr' OR vip == true AND priority > 10", False, id="and-first"),
        pytest.param("(language == 'fr' OR vip == true) AND priority > 10", False, id="grouped"),
        pytest.param("vip == true OR language == 'fr' AND priority > 10", True, id="or-wins"),
        pytest.param("(vip == true OR language == 'fr') AND priority > 10", False, id="paren"),
        pytest.param("priority > 10 AND language == 'fr' OR vip == true", True, id="left-and"),
        pytest.param("priority > 10 AND (language == 'fr' OR vip == true)", False, id="right-or"),
    ],
)
def test_and_binds_tighter_than_or(expression, expected):
    check(expression, expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("language == 'en' AND type == 'ticket'", True, id="and-both-true"),
        pytest.param("language == 'en' AND type == 'call'", False, id="and-one-false"),
        pytest.param("language == 'fr' OR type == 'ticket'", True, id="or-one-true"),
        pytest.param("language == 'fr' OR type == 'call'", False, id="or-both-false"),
        pytest.param(
            '(language == "en" OR language == "fr") AND skill_rating >= 5.1',
            True,
            id="documented-example",
        ),
        pytest.param("a == 1 OR b == 2 OR language == 'en' OR c == 3", True, id="long-or"),
        pytest.param("vip == true AND priority > 1 AND language != 'fr'", True, id="long-and"),
        pytest.param("((((language == 'en'))))", True, id="nested-parentheses"),
        pytest.param("1 == 1 AND language == 'fr'", False, id="constant-true-and"),
        pytest.param("1 == 2 OR language == 'en'", True, id="constant-false-or"),
        pytest.param("1 == 2 AND language == 'en'", False, id="constant-false-and"),
    ],
)
def test_and_or_and_parentheses_combine_conditions(expression, expected):
    check(expression, expected)


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("language in ['en']", id="in-lower"),
        pytest.param("language In ['en']", id="in-mixed"),
        pytest.param("language not in ['fr']", id="not-in-lower"),
        pytest.param("language Not  In ['fr']", id="not-in-mixed-extra-space"),
        pytest.param("skills has 'support'", id="has-lower"),
        pytest.param("customer_value contains 'ol'", id="contains-lower"),
        pytest.param("vip == true and language == 'en'", id="and-lower"),
        pytest.param("vip == false or language == 'en'", id="or-lower"),
        pytest.param("language IN['en']", id="keyword-touching-bracket"),
        pytest.param("language=='en'AND(vip==true)", id="no-spaces-at-all"),
        pytest.param("\n\tlanguage\t==\n'en'  ", id="any-whitespace"),
    ],
)
def test_keywords_are_case_insensitive_and_spacing_is_free(expression):
    check(expression, True)


def test_symbol_aliases_are_read_longest_first():
    # "a<-1" is "a <- 1" (IN), not "a < -1"; a space makes it a comparison.
    assert parse_expression("priority<-1").tree.operator == "IN"
    assert parse_expression("priority < -1").tree.operator == "<"
    assert parse_expression("skills>-1").tree.operator == "HAS"
    check("priority<-1", False)
    check("priority > -1", True)


# --- Syntax errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        pytest.param("", 0, "The expression is empty.", id="empty"),
        pytest.param("   \t ", 0, "The expression is empty.", id="blank"),
        pytest.param(
            "skill_rating ==",
            15,
            "Expected a value after '==' at character 16 (the end of the expression).",
            id="missing-value-at-end",
        ),
        pytest.param(
            "vip",
            3,
            "Expected an operator after 'vip' at character 4 (the end of the expression).",
            id="bare-reference",
        ),
        pytest.param("true", 4, "Expected an operator after 'true'", id="bare-constant"),
        pytest.param(
            "vip AND x == 1",
            4,
            "Expected an operator after 'vip' at character 5, found 'AND'",
            id="bare-reference-before-and",
        ),
        pytest.param(
            "a == 1 AND",
            10,
            "Expected an attribute name or a value after 'AND' at character 11 (the end",
            id="dangling-and",
        ),
        pytest.param("== 1", 0, "at character 1, found '=='", id="starts-with-operator"),
        pytest.param(
            "a == 1 b == 2",
            7,
            "Expected AND, OR or the end of the expression after '1' at character 8, found 'b'",
            id="trailing-tokens",
        ),
        pytest.param("a == 1 == 2", 7, "at character 8, found '=='", id="chained-comparison"),
        pytest.param(
            "(a == 1 AND b == 2", 0, "The '(' at character 1 is never closed", id="unclosed-paren"
        ),
        pytest.param(
            "((a == 1) OR b == 2", 0, "The '(' at character 1 is never closed", id="outer-unclosed"
        ),
        pytest.param(
            "a == 1) OR b == 2", 6, "Unexpected ')' at character 7", id="stray-closing-paren"
        ),
        pytest.param(") a == 1", 0, "Unexpected ')' at character 1", id="leading-stray-paren"),
        pytest.param("()", 1, "at character 2, found ')'", id="empty-parentheses"),
        pytest.param(
            "(a == 1 b == 2)", 8, "Expected AND, OR or ')' after '1' at character 9", id="in-group"
        ),
        pytest.param(
            "name == 'abc",
            8,
            "Unterminated string at character 9: the opening ' is never closed.",
            id="unterminated-single-quoted",
        ),
        pytest.param(
            'name == "abc\\"', 8, "Unterminated string at character 9", id="escaped-final-quote"
        ),
        pytest.param(
            "customer-name == 'x'",
            8,
            "hyphens are not supported in TaskRouter expressions",
            id="hyphen-in-name",
        ),
        pytest.param("a.b-c == 1", 3, "'a.b-c' at character 4", id="hyphen-in-nested-name"),
        pytest.param("a == -x", 5, "at character 6", id="minus-without-number"),
        pytest.param(
            "language IN ['en', 'es'",
            12,
            "The '[' at character 13 is never closed",
            id="unterminated-array",
        ),
        pytest.param("x IN [", 5, "The '[' at character 6 is never closed", id="bare-bracket"),
        pytest.param(
            "x IN ['a' 'b']", 10, "Expected ',' or ']' after 'a' at character 11", id="no-comma"
        ),
        pytest.param(
            "x IN ['a',]", 10, "Expected a value after ',' at character 11", id="trailing-comma"
        ),
        pytest.param("x IN [y]", 6, "not the attribute 'y' at character 7", id="ref-in-array"),
        pytest.param("x IN [[1]]", 6, "Arrays cannot be nested", id="nested-array"),
        pytest.param(
            "a[x] == 1",
            2,
            "Expected a whole-number index after '[' at character 3, found 'x'",
            id="bad-index",
        ),
        pytest.param("a[-1] == 1", 2, "found '-1'", id="negative-index"),
        pytest.param("a[1 == 1", 4, "Expected ']' after '1' at character 5", id="unclosed-index"),
        pytest.param("a. b == 1", 2, "Expected an attribute name after '.'", id="dangling-dot"),
        pytest.param("a # 1", 2, "Unexpected character '#' at character 3.", id="bad-character"),
        pytest.param("a ! 1", 2, "use != for", id="lone-bang"),
        pytest.param("a == 1 && b == 2", 7, "use AND", id="double-ampersand"),
        pytest.param("a == 1 || b == 2", 7, "use OR", id="double-pipe"),
        pytest.param("a == \u201cx\u201d", 5, "use straight quotes", id="smart-quotes"),
        pytest.param("a == 1.2.3", 5, "Invalid number '1.2.3' at character 6", id="bad-number"),
        pytest.param("1abc == 1", 0, "Invalid number '1abc' at character 1", id="number-word"),
        pytest.param(
            "NOT vip == true", 0, "TaskRouter has no NOT operator, only NOT IN", id="unary-not"
        ),
        pytest.param(
            "a NOT == 1", 6, "Expected IN after 'NOT' at character 7, found '=='", id="not-alone"
        ),
        pytest.param("a == (1)", 5, "Parentheses group conditions, not values", id="paren-value"),
        pytest.param("in == 1", 0, "found 'in'", id="keyword-as-name"),
        pytest.param("  a ==  ", 8, "character 9 (the end of the expression)", id="padded-end"),
    ],
)
def test_syntax_errors_point_at_the_problem(text, position, fragment):
    error = syntax_error(text)
    assert error.position == position
    assert fragment in str(error)
    assert str(error) == error.user_message
    if text.strip():
        assert f"character {position + 1}" in str(error)


def test_long_tokens_are_shortened_in_messages():
    error = syntax_error('a == "' + "x" * 50 + '" b')
    assert '"xxxxxxxxxxxxxxxxxxxxxxxxx..."' in str(error)
    assert error.position == 58


def test_deeply_nested_parentheses_are_refused_not_a_crash():
    error = syntax_error("(" * 500 + "a == 1" + ")" * 500)
    assert error.position == 100
    assert "nested more than 100 deep" in str(error)


def test_syntax_errors_are_invalid_parameters_naming_the_parameter():
    error = syntax_error("a ==")
    assert isinstance(error, InvalidParameter)
    assert isinstance(error, ValueError)
    assert error.param == "EvaluateTaskAttributes"
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse_expression("a ==", param="Expression")
    assert caught.value.param == "Expression"
    # The cache must not carry one caller's param over to the next.
    assert syntax_error("a ==").param == "EvaluateTaskAttributes"


def test_check_expression_returns_the_stripped_text():
    assert check_expression("  language == 'en'\n") == "language == 'en'"
    with pytest.raises(ExpressionSyntaxError) as caught:
        check_expression("language ==", param="TargetWorkers")
    assert caught.value.param == "TargetWorkers"


def test_non_string_expressions_are_a_programming_error():
    with pytest.raises(TypeError):
        parse_expression(None)  # type: ignore[arg-type]


# --- The Expression object ------------------------------------------------------------------


def test_parsing_is_cached_by_text():
    text = "language == 'en' AND priority > 2"
    assert parse_expression(text) is parse_expression(text)
    assert parse_expression(text) is parse_expression(text, param="Expression")


def test_expressions_are_frozen_and_compare_by_text():
    expression = parse_expression("language == 'en'")
    assert expression == Expression("language == 'en'")
    assert hash(expression) == hash(Expression("language == 'en'"))
    assert expression.text == "language == 'en'"
    with pytest.raises(AttributeError):
        expression.text = "x == 1"  # type: ignore[misc]


def test_constructing_an_expression_directly_also_validates():
    with pytest.raises(ExpressionSyntaxError):
        Expression("language ==")
    assert Expression("language == 'en'").matches(TASK)


def test_matches_accepts_any_mapping_and_treats_none_as_no_attributes():
    expression = parse_expression("object.param == 'banana' AND language == 'en'")
    assert expression.matches(MappingProxyType({**TASK, "object": OrderedDict(param="banana")}))
    assert parse_expression("missing != 'x'").matches(None) is False
    assert parse_expression("1 == 1").matches(None) is True
    with pytest.raises(TypeError):
        expression.matches(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_the_module_level_matches_parses_and_evaluates():
    assert matches("language == 'en'", TASK) is True
    assert matches("language == 'fr'", {}) is False


def test_one_parsed_expression_judges_each_task_on_its_own():
    # The sandbox parses a filter once and evaluates it per task; how fast is for
    # `make bench`, not for an assertion on whatever machine runs the tests.
    expression = parse_expression(
        "language IN ['en', 'es'] AND priority >= 3 AND object.param != 'apple'"
    )
    attributes = [
        {"language": "en", "priority": 5, "object": {"param": "banana"}},
        {"language": "fr", "priority": 5, "object": {"param": "banana"}},
        {"language": "es", "priority": 1},
        {"language": "es", "priority": 9, "object": {"param": "apple"}},
    ]
    answers = [expression.matches(each) for each in attributes * 3]
    assert answers == [True, False, False, False] * 3


def test_numbers_from_other_json_decoders_still_compare():
    attributes = json.loads('{"rating": 5.5, "scores": [1.0, 2.5]}', parse_float=Decimal)
    assert matches("rating > 5 AND rating < 6 AND scores HAS 1", attributes) is True
    assert matches("rating == '5.5'", attributes) is False
