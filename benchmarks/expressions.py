#!/usr/bin/env python3
"""Per-evaluation cost of JSONata against the JSONPath equivalent (issue 4).

    python benchmarks/expressions.py

Compiled once, evaluated many times, through the same code the engine runs
(asl.templates.Template.evaluate and asl.choice predicates).
"""
from __future__ import annotations

import random
import timeit

from asl.choice import compile_rule
from asl.model import ChoiceRule
from asl.templates import compile_template

DOC = {"order": {"id": "o-17", "customer": {"email": "a@example.com"}},
       "items": [{"sku": f"S{i}", "price": 2.5 * i, "qty": i % 3 + 1} for i in range(10)], "total": 123.5}


class Scope:
    def __init__(self, value):
        self.input = value
        self.variables = {}
        self.rng = random.Random(0)
        self.context = {"Execution": {"Id": "arn:x"}}
        self.states = {"input": value, "context": self.context}


def per_call(fn, number=20000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    scope = Scope(DOC)
    args_jsonpath = compile_template({"id.$": "$.order.id", "email.$": "$.order.customer.email",
                                      "first.$": "$.items[0].sku", "count.$": "States.ArrayLength($.items)"})
    args_jsonata = compile_template({"id": "{% $states.input.order.id %}",
                                     "email": "{% $states.input.order.customer.email %}",
                                     "first": "{% $states.input.items[0].sku %}",
                                     "count": "{% $count($states.input.items) %}"}, "JSONata")
    assert args_jsonpath.evaluate(scope) == args_jsonata.evaluate(scope)
    rule = compile_rule(ChoiceRule.model_validate({"Variable": "$.total", "NumericGreaterThan": 100, "Next": "X"}))
    condition = compile_template("{% $states.input.total > 100 %}", "JSONata")
    assert rule(scope) is condition.evaluate(scope) is True
    rows = [("Arguments / Parameters (4 fields)", per_call(lambda: args_jsonpath.evaluate(scope)),
             per_call(lambda: args_jsonata.evaluate(scope))),
            ("Choice rule / Condition", per_call(lambda: rule(scope)), per_call(lambda: condition.evaluate(scope)))]
    print("| expression | JSONPath µs | JSONata µs | ratio |")
    print("|---|---|---|---|")
    for name, jp, ja in rows:
        print(f"| {name} | {jp:.2f} | {ja:.2f} | {ja / jp:.1f}× |")


if __name__ == "__main__":
    main()
