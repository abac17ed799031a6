"""Runs one pipeline component function inside its step's job.

    python -m mlcore._component_runner MODULE:FUNCTION
    python -m mlcore._component_runner /path/to/file.py:FUNCTION

Inputs come from the environment (proto/mlcore/v1/pipelines.proto): ``MLC_INPUT_<NAME>`` holds a
parameter's value (text for strings, JSON for everything else) or the local path of an artifact's
or dataset's files; an input that is not set takes the argument's default. Outputs go under
``$MLC_OUTPUT_DIR/<name>``: the function writes ``Output[Path]`` arguments itself; parameters it
returns and ``Output[Metrics]`` dicts it fills are written here as JSON.

Exit codes: 0 when the function returned and every required output exists; 1 when it raised (the
traceback is on stderr) or left a declared output unwritten; 2 when the step is set up wrongly
(bad target, missing or malformed input, no MLC_OUTPUT_DIR), with a message saying what to fix.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import pathlib
import sys
import traceback
from typing import Any

_PREFIX = "mlcore component runner: "


class SetupError(Exception):
    """The step is set up wrongly; the message says what to fix."""


def _load(target: str) -> Any:
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise SetupError(f"target {target!r} is not MODULE:FUNCTION or FILE.py:FUNCTION")
    if module_name.endswith(".py"):
        path = pathlib.Path(module_name)
        if not path.is_file():
            raise SetupError(f"component file {module_name} does not exist here")
        spec = importlib.util.spec_from_file_location("_mlcore_component_module", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["_mlcore_component_module"] = module
        sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            raise SetupError(f"cannot import {module_name!r} ({e}); the step's job runs in "
                             f"{os.getcwd()} with PYTHONPATH={os.environ.get('PYTHONPATH', '')!r}") from e
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SetupError(f"{module_name} has no {attr!r}") from None
    return obj


def _parse(name: str, text: str, decl: Any) -> Any:
    """The value of parameter `name` from its environment text, by the argument's type."""
    t = decl.python_type
    try:
        if t is str:
            return text
        if t is bool:
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError("expected true or false")
        if t is int:
            value = json.loads(text)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
                raise ValueError("expected an integer")
            return int(value)
        if t is float:
            value = json.loads(text)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError("expected a number")
            return float(value)
        if t in (list, tuple):
            value = json.loads(text)
            if not isinstance(value, list):
                raise ValueError("expected a JSON list")
            return t(value)
        if t is dict:
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError("expected a JSON object")
            return value
        try:  # unannotated: JSON when it is JSON, else the text
            return json.loads(text)
        except ValueError:
            return text
    except ValueError as e:
        raise SetupError(f"input {name!r}: MLC_INPUT_{name.upper()}={text!r} is not a valid "
                         f"{getattr(t, '__name__', 'value')} ({e})") from None


def _write_json(path: pathlib.Path, value: Any, name: str) -> None:
    try:
        text = json.dumps(value)
    except TypeError as e:
        raise TypeError(f"output {name!r} is not JSON-serializable: {e}") from None
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run(target: str) -> int:
    from mlcore import pipelines

    fn = _load(target)
    if isinstance(fn, pipelines.Component):
        if fn.fn is None:
            raise SetupError(f"{target} is a container component; it has no function to run")
        component = fn
        fn = component.fn
        inputs, arg_outputs, returns = component.inputs, [o for o in component.outputs if o not in component.returns], component.returns
    elif callable(fn):
        inputs, arg_outputs, returns = pipelines.analyze(fn)
    else:
        raise SetupError(f"{target} is not a function")
    out_dir_text = os.environ.get("MLC_OUTPUT_DIR")
    if not out_dir_text:
        raise SetupError("MLC_OUTPUT_DIR is not set; the pipeline executor sets it to the "
                         "directory where the step's outputs go")
    out_dir = pathlib.Path(out_dir_text)
    out_dir.mkdir(parents=True, exist_ok=True)

    kwargs: dict[str, Any] = {}
    for decl in inputs:
        text = os.environ.get(f"MLC_INPUT_{decl.name.upper()}")
        if text is None:
            if decl.default is not pipelines._NO_DEFAULT:
                continue  # the function's own default
            if decl.optional:
                kwargs[decl.name] = None
                continue
            raise SetupError(f"input {decl.name!r} has no value: set MLC_INPUT_{decl.name.upper()}")
        if decl.kind in ("artifact", "dataset"):
            path = pathlib.Path(text)
            if not path.exists():
                raise SetupError(f"input {decl.name!r}: {text} does not exist")
            kwargs[decl.name] = path
        elif decl.kind == "metrics":
            kwargs[decl.name] = pipelines.Metrics(_parse(decl.name, text, decl._replace(python_type=dict)))
        else:
            kwargs[decl.name] = _parse(decl.name, text, decl)
    metrics: dict[str, pipelines.Metrics] = {}
    for decl in arg_outputs:
        if decl.kind == "metrics":
            metrics[decl.name] = kwargs[decl.name] = pipelines.Metrics()
        else:
            kwargs[decl.name] = out_dir / decl.name

    try:
        result = fn(**kwargs)
    except Exception:
        traceback.print_exc()
        return 1

    for name, values in metrics.items():
        bad = {k: v for k, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
        if bad:
            print(f"{_PREFIX}metrics output {name!r} holds values that are not numbers: {bad}",
                  file=sys.stderr)
            return 1
        _write_json(out_dir / name, dict(values), name)
    if len(returns) == 1:
        if returns[0].kind == "metrics":
            _write_json(out_dir / returns[0].name, dict(result or {}), returns[0].name)
        else:
            _write_json(out_dir / returns[0].name, result, returns[0].name)
    elif returns:
        if not isinstance(result, tuple) or len(result) != len(returns):
            print(f"{_PREFIX}the function must return {len(returns)} values "
                  f"({', '.join(d.name for d in returns)})", file=sys.stderr)
            return 1
        for decl, value in zip(returns, result):
            _write_json(out_dir / decl.name, value, decl.name)
    missing = [d.name for d in arg_outputs if not d.optional and not (out_dir / d.name).exists()]
    if missing:
        print(f"{_PREFIX}the function did not write output(s) {', '.join(missing)}: write a file "
              f"or a directory at the Path it receives for each", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: python -m mlcore._component_runner MODULE:FUNCTION", file=sys.stderr)
        return 2
    try:
        return run(argv[0])
    except SetupError as e:
        print(_PREFIX + str(e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
