"""Pipelines of jobs written as plain Python functions.

A *component* is a function with type hints; ordinary arguments are parameters, and artifacts are
``Input[Path]`` / ``Output[Path]`` arguments. Calling components inside a *pipeline* function does
not run them: each call adds a step, and its result is a handle on the step's outputs that can be
passed to the next call. ``compile`` writes the pipeline as YAML that ``mlc pipeline lint`` (and
later ``mlc pipeline run``) reads::

    from pathlib import Path
    import mlcore
    from mlcore import Input, Output

    @mlcore.component(flavor="cpu-2-8")
    def prep(rows: int, data: Output[Path]):
        data.write_text("\\n".join(str(i) for i in range(rows)))

    @mlcore.component(flavor="cpu-2-8")
    def train(data: Input[Path], lr: float = 0.1) -> float:
        return len(data.read_text().split()) * lr

    @mlcore.pipeline
    def flow(rows: int = 100):
        return train(data=prep(rows=rows), lr=0.5)

    mlcore.compile(flow, "flow.yaml")

How a step's job runs the function: ``python -m mlcore._component_runner MODULE:FUNCTION`` reads
each input from ``MLC_INPUT_<NAME>`` (a parameter's value, JSON for lists and dicts; an artifact's
or dataset's local path), calls the function, and writes each output under
``$MLC_OUTPUT_DIR/<name>`` (parameters and metrics as JSON, artifacts as the file or directory the
function wrote at the ``Output[Path]`` it was given). See docs/pipelines.md.
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import inspect
import json
import os
import pathlib
import re
import sys
import types
import typing
from typing import Any, Callable, Generic, Iterator, Mapping, Sequence, TypeVar

from mlcore.errors import InvalidArgumentError
from mlcore._record import Record

T = TypeVar("T")


class Input(Generic[T]):
    """Marks a function argument as an input of files: ``data: Input[Path]`` (an artifact of an
    earlier step) or ``Input[Dataset]`` (a dataset URI loaded through the data cache). The
    function receives a ``pathlib.Path``."""


class Output(Generic[T]):
    """Marks a function argument as an output the function writes: ``model: Output[Path]`` (the
    function writes a file or a directory at the ``pathlib.Path`` it receives) or
    ``scores: Output[Metrics]`` (the function fills the dict it receives with numbers)."""


class Dataset:
    """``Input[Dataset]``: a dataset (a URI loaded through the data cache), received as a Path."""


class Metrics(dict):
    """``Output[Metrics]``: a dict of metric name -> number the function fills; stored as the
    step's metrics (and usable in conditions: ``steps.STEP.outputs.NAME.KEY``)."""


Artifact = pathlib.Path  # ``Input[Artifact]`` reads like ``Input[Path]``

_PARAMETER_TYPES = {str: "PARAMETER_TYPE_STRING", int: "PARAMETER_TYPE_INT",
                    float: "PARAMETER_TYPE_DOUBLE", bool: "PARAMETER_TYPE_BOOL",
                    list: "PARAMETER_TYPE_LIST", tuple: "PARAMETER_TYPE_LIST",
                    dict: "PARAMETER_TYPE_STRUCT"}
_NO_DEFAULT = inspect.Parameter.empty


class IoDecl(typing.NamedTuple):
    """One declared input or output: ``kind`` is "parameter", "artifact", "dataset" or "metrics";
    ``python_type`` the annotation's base type (``int``, ``pathlib.Path``, ...)."""
    name: str
    kind: str
    parameter_type: str = ""
    python_type: Any = None
    optional: bool = False
    default: Any = _NO_DEFAULT

    def to_spec(self, default: Any = _NO_DEFAULT) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": f"IO_TYPE_{self.kind.upper()}"}
        if self.kind == "parameter":
            out["parameter_type"] = self.parameter_type
        if self.optional:
            out["optional"] = True
        value = self.default if default is _NO_DEFAULT else default
        if value is not _NO_DEFAULT and value is not None:
            out["default_value"] = parameter_text(value) if self.kind == "parameter" else str(value)
        return out


def parameter_text(value: Any) -> str:
    """A parameter's value as the environment and defaults carry it: strings as they are, anything
    else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, pathlib.PurePath):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _base(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without Optional[...], whether it was optional)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is getattr(types, "UnionType", None):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _decl(name: str, annotation: Any, default: Any, where: str) -> tuple[str, IoDecl]:
    """("input" or "output", its declaration) for one annotated argument."""
    annotation, optional = _base(annotation)
    origin = typing.get_origin(annotation)
    # `x: int = None` makes an input optional; `model: Output[Path] = None` is only there to
    # follow arguments with defaults, so outputs are optional only when written Optional[...].
    optional = optional or (default is None and origin is not Output)
    if origin in (Input, Output):
        (inner,) = typing.get_args(annotation) or (pathlib.Path,)
        direction = "input" if origin is Input else "output"
        if isinstance(inner, type) and issubclass(inner, pathlib.PurePath):
            kind = "artifact"
        elif inner is Dataset:
            kind = "dataset"
        elif inner is Metrics:
            kind = "metrics"
        else:
            raise TypeError(f"{where}: argument {name!r} is {direction.capitalize()}[{inner!r}]; "
                            f"use {direction.capitalize()}[Path], Input[Dataset] or Output[Metrics] "
                            f"(plain values are parameters: annotate them as int, str, ...)")
        if direction == "output" and kind == "dataset":
            raise TypeError(f"{where}: {name!r}: Output[Dataset] is not supported; write an "
                            f"Output[Path] artifact")
        return direction, IoDecl(name, kind, python_type=inner, optional=optional,
                                 default=default if direction == "input" else _NO_DEFAULT)
    return "input", IoDecl(name, "parameter", _parameter_type(annotation, name, where),
                           python_type=typing.get_origin(annotation) or annotation,
                           optional=optional, default=default)


def _parameter_type(annotation: Any, name: str, where: str) -> str:
    if annotation is _NO_DEFAULT or annotation is Any:
        return "PARAMETER_TYPE_STRING"
    base = typing.get_origin(annotation) or annotation
    if base in _PARAMETER_TYPES:
        return _PARAMETER_TYPES[base]
    raise TypeError(f"{where}: argument {name!r} is annotated {annotation!r}; parameters are str, "
                    f"int, float, bool, list or dict, and files are Input[Path] / Output[Path]")


def _returns(annotation: Any, where: str) -> list[IoDecl]:
    """Outputs from a return annotation: a parameter type gives output "output"; a NamedTuple
    gives one output per field."""
    if annotation in (None, type(None), _NO_DEFAULT):
        return []
    if isinstance(annotation, type) and issubclass(annotation, tuple) and hasattr(annotation, "_fields"):
        hints = typing.get_type_hints(annotation)
        return [IoDecl(f, "parameter", _parameter_type(hints.get(f, Any), f, where),
                       python_type=hints.get(f)) for f in annotation._fields]
    if annotation is Metrics:
        return [IoDecl("metrics", "metrics", python_type=Metrics)]
    return [IoDecl("output", "parameter", _parameter_type(annotation, "return value", where),
                   python_type=typing.get_origin(annotation) or annotation)]


def analyze(fn: Callable[..., Any]) -> tuple[list[IoDecl], list[IoDecl], list[IoDecl]]:
    """(inputs, argument outputs, returned outputs) of a component function, from its hints."""
    where = f"component {getattr(fn, '__qualname__', fn)!r}"
    try:
        hints = typing.get_type_hints(fn)
    except Exception as e:  # a hint naming something the module does not define
        raise TypeError(f"{where}: cannot resolve its type hints: {e}") from e
    inputs, outputs = [], []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{where}: *args and **kwargs cannot be pipeline inputs; name each one")
        direction, decl = _decl(p.name, hints.get(p.name, _NO_DEFAULT), p.default, where)
        (inputs if direction == "input" else outputs).append(decl)
    return inputs, outputs, _returns(hints.get("return", _NO_DEFAULT), where)


# --- components ---------------------------------------------------------------------------------

def _step_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (name if name[:1].isalpha() else "step-" + name)[:63].rstrip("-") or "step"


class Component:
    """A pipeline step template: a function run by ``mlcore._component_runner``, or a container
    command. Called inside a ``@pipeline`` function it adds a step and returns its :class:`Task`;
    called anywhere else, a function component simply runs its function."""

    def __init__(self, name: str, inputs: Sequence[IoDecl], outputs: Sequence[IoDecl],
                 job: Mapping[str, Any], *, fn: Callable[..., Any] | None = None,
                 returns: Sequence[IoDecl] = (), cache: bool | None = None,
                 description: str = ""):
        self.name = name
        self.inputs = list(inputs)
        self.outputs = [*outputs, *returns]
        self.returns = list(returns)
        self.job = dict(job)
        self.fn = fn
        self.cache = cache
        self.description = description
        if fn is not None:
            self.__wrapped__ = fn
            self.__doc__ = fn.__doc__
            self.__name__ = getattr(fn, "__name__", name)
            self.__qualname__ = getattr(fn, "__qualname__", name)
            self.__module__ = getattr(fn, "__module__", __name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = _BUILDER.get()
        if builder is None:
            if self.fn is None:
                raise InvalidArgumentError(
                    f"container component {self.name!r} runs only as a pipeline step; call it "
                    f"inside a @mlcore.pipeline function")
            return self.fn(*args, **kwargs)
        return builder.add(self, args, kwargs)

    def __repr__(self) -> str:
        ins = ", ".join(d.name for d in self.inputs)
        outs = ", ".join(d.name for d in self.outputs)
        return f"<mlcore component {self.name!r} ({ins}) -> ({outs})>"


def _job_options(options: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(options)
    for key in ("deadline", "ttl"):
        if isinstance(out.get(key), datetime.timedelta):
            out[key] = f"{int(out[key].total_seconds())}s"
    return out


def _runner_target(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if "<locals>" in qualname or not qualname:
        raise TypeError(f"component {qualname or fn!r} is defined inside a function; define it at "
                        f"the top level of a module so the step's job can import it")
    if module == "__main__":
        main = sys.modules.get("__main__")
        path = getattr(main, "__file__", None)
        if not path:
            raise TypeError(f"component {qualname!r} is defined in a notebook or an interactive "
                            f"session, which a job cannot import; move it into a module")
        return f"{os.path.abspath(path)}:{qualname}"
    return f"{module}:{qualname}"


def component(fn: Callable[..., Any] | None = None, *, name: str | None = None,
              flavor: str | None = None, image: str | None = None, resources: Any = None,
              env: Mapping[str, str] | None = None, retries: int | None = None,
              cache: bool | None = None, python: str | None = None,
              **job_options: Any) -> Any:
    """Makes a typed function a pipeline component (usable as ``@component`` or
    ``@component(flavor="cpu-2-8")``).

    Arguments annotated ``str``, ``int``, ``float``, ``bool``, ``list`` or ``dict`` are parameters
    (defaults become the inputs' defaults; ``Optional[...]`` or a ``None`` default makes them
    optional); ``Input[Path]`` / ``Input[Dataset]`` are files in; ``Output[Path]`` /
    ``Output[Metrics]`` are written by the function. The return value is an output too: ``output``
    for a plain type, one output per field for a ``NamedTuple``.

    ``flavor``, ``image``, ``resources``, ``env``, ``retries`` and further keywords
    (``deadline=``, ``labels=``, ``priority=``, ``secrets=``, ...) go to the step's job spec as in
    :func:`mlcore.jobs.build_spec`; ``cache=False`` switches caching off for its steps. The step
    runs ``PYTHON -m mlcore._component_runner MODULE:FUNCTION`` where PYTHON is ``python``
    when an image is given, else this interpreter (``python=`` overrides it)."""

    def wrap(f: Callable[..., Any]) -> Component:
        from mlcore import jobs

        inputs, outputs, returns = analyze(f)
        interpreter = python or ("python" if image else sys.executable)
        spec = jobs.build_spec([interpreter, "-m", "mlcore._component_runner", _runner_target(f)],
                               flavor=flavor, image=image, resources=resources, env=env,
                               retries=retries, **_job_options(job_options))
        # The code's digest goes into the step's job spec, so a changed function misses the
        # step cache (docs/pipelines.md, "Caching").
        try:
            code = inspect.getsource(f)
        except (OSError, TypeError):
            code = repr(getattr(f, "__code__", f).co_code if hasattr(f, "__code__") else f)
        spec.setdefault("labels", {})["mlc.code-digest"] = hashlib.sha256(code.encode()).hexdigest()[:32]
        doc = inspect.getdoc(f) or ""
        return Component(name or _step_name(f.__name__), inputs, outputs, spec, fn=f,
                         returns=returns, cache=cache, description=doc.split("\n\n")[0])

    return wrap(fn) if fn is not None else wrap


def container_component(name: str, *, image: str | None = None, command: Sequence[str],
                        inputs: Mapping[str, Any] | None = None,
                        outputs: Mapping[str, Any] | None = None, cache: bool | None = None,
                        **job_options: Any) -> Component:
    """A component that runs a command (in ``image`` when given) instead of a Python function.

    ``inputs`` and ``outputs`` map names to the same annotations as function arguments
    (``{"epochs": int, "data": Input[Path]}``, ``{"model": Output[Path], "auc": float}``). The
    command sees each input as ``MLC_INPUT_<NAME>`` and as ``{{inputs.NAME}}`` in its words, and
    writes each output under ``$MLC_OUTPUT_DIR/<name>``::

        resize = mlcore.pipelines.container_component(
            "resize", image="ghcr.io/acme/resize:1",
            command=["sh", "-c", "resize --size {{inputs.size}} $MLC_INPUT_IMAGES "
                                 "$MLC_OUTPUT_DIR/small"],
            inputs={"images": Input[Path], "size": int}, outputs={"small": Output[Path]})
    """
    from mlcore import jobs

    where = f"container component {name!r}"
    ins = [_decl(n, a, _NO_DEFAULT, where)[1] for n, a in (inputs or {}).items()]
    outs = []
    for n, a in (outputs or {}).items():
        direction, decl = _decl(n, a, _NO_DEFAULT, where)
        if direction == "input" and decl.kind != "parameter":
            raise TypeError(f"{where}: output {n!r} is annotated as an input; use Output[Path], "
                            f"Output[Metrics] or a parameter type")
        outs.append(decl._replace(default=_NO_DEFAULT, optional=False))
    spec = jobs.build_spec([*command], image=image, **_job_options(job_options))
    return Component(_step_name(name), ins, outs, spec, cache=cache)


# --- building pipelines -------------------------------------------------------------------------

class OutputHandle:
    """One output of a step (or input of the pipeline): pass it to another component call.
    ``ref`` is how conditions name it (``steps.train.outputs.auc``)."""

    def __init__(self, task: "Task | None", decl: IoDecl):
        self.task = task
        self.decl = decl

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def ref(self) -> str:
        if self.task is None:
            return f"inputs.{self.decl.name}"
        return f"steps.{self.task.name}.outputs.{self.decl.name}"

    def __getitem__(self, key: str) -> str:
        """``handle["auc"]``: the reference of one metric of a metrics output, for conditions."""
        return f"{self.ref}.{key}"

    def __repr__(self) -> str:
        return f"<{self.ref} ({self.decl.kind})>"


class _Outputs:
    """A step's outputs by attribute (``task.outputs.model``) or by key (``task.outputs["model"]``)."""

    def __init__(self, task: "Task"):
        self._task = task

    def __getitem__(self, name: str) -> OutputHandle:
        for decl in self._task.component.outputs:
            if decl.name == name:
                return OutputHandle(self._task, decl)
        known = ", ".join(d.name for d in self._task.component.outputs) or "(none)"
        raise KeyError(f"step {self._task.name!r} has no output {name!r}; its outputs: {known}")

    def __getattr__(self, name: str) -> OutputHandle:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(e.args[0]) from None

    def __iter__(self) -> Iterator[str]:
        return iter(d.name for d in self._task.component.outputs)

    def __dir__(self) -> list[str]:
        return [d.name for d in self._task.component.outputs]


class Task:
    """A step added by calling a component inside a pipeline. Pass it (when it has one output)
    or ``task.outputs.NAME`` to later calls; chain settings::

        train(data=prep.outputs.data).after(check).when(f"{ev.outputs.auc.ref} >= 0.9")
    """

    def __init__(self, component_: Component, name: str, arguments: dict[str, Any]):
        self.component = component_
        self.name = name
        self.arguments = arguments
        self.outputs = _Outputs(self)
        self.depends_on: list[Task] = []
        self.condition = ""
        self.parallel: dict[str, Any] | None = None
        self.cache = component_.cache
        self.retry: dict[str, Any] | None = None

    @property
    def output(self) -> OutputHandle:
        """The step's only output. Errors: AttributeError when it has none or several."""
        outs = self.component.outputs
        if len(outs) != 1:
            names = ", ".join(d.name for d in outs) or "none"
            raise AttributeError(f"step {self.name!r} has {len(outs)} outputs ({names}); pick one "
                                 f"with .outputs.NAME")
        return OutputHandle(self, outs[0])

    def after(self, *tasks: "Task") -> "Task":
        """Runs this step only after ``tasks`` succeeded, though no data flows from them."""
        self.depends_on.extend(tasks)
        return self

    def when(self, condition: str) -> "Task":
        """Runs this step only when ``condition`` holds (else it is SKIPPED), e.g.
        ``f"{evaluate.outputs.auc.ref} >= 0.9 and inputs.deploy == true"``."""
        self.condition = condition
        return self

    def parallel_for(self, input: str, max_parallelism: int = 0) -> "Task":
        """Runs this step once per element of the list fed to ``input``; the function receives one
        element. Downstream steps receive this step's outputs as lists."""
        if input not in self.arguments and not any(d.name == input for d in self.component.inputs):
            raise KeyError(f"step {self.name!r} has no input {input!r}")
        self.parallel = {"input": input, "max_parallelism": int(max_parallelism)}
        return self

    def set_retry(self, max_restarts: int) -> "Task":
        self.retry = {"max_restarts": int(max_restarts)}
        return self

    def set_cache(self, enabled: bool) -> "Task":
        self.cache = bool(enabled)
        return self

    def named(self, name: str) -> "Task":
        """Renames the step (names must be unique in the pipeline)."""
        self.name = name
        return self

    def __repr__(self) -> str:
        return f"<mlcore step {self.name!r} of {self.component.name!r}>"


class _Builder:
    def __init__(self, pipeline_name: str):
        self.pipeline_name = pipeline_name
        self.tasks: list[Task] = []

    def add(self, comp: Component, args: tuple, kwargs: dict) -> Task:
        params = [d.name for d in comp.inputs]
        if len(args) > len(params):
            raise TypeError(f"{comp.name}() takes {len(params)} inputs but {len(args)} were given")
        arguments = dict(zip(params, args))
        for key, value in kwargs.items():
            if key in arguments:
                raise TypeError(f"{comp.name}() got two values for input {key!r}")
            if key not in params:
                outs = [d.name for d in comp.outputs]
                hint = (f" ({key!r} is an output: the step writes it)" if key in outs else "")
                raise TypeError(f"{comp.name}() has no input {key!r}{hint}; its inputs: "
                                f"{', '.join(params) or '(none)'}")
            arguments[key] = value
        taken = {t.name for t in self.tasks}
        name, n = comp.name, 2
        while name in taken:
            name, n = f"{comp.name}-{n}", n + 1
        task = Task(comp, name, arguments)
        self.tasks.append(task)
        return task


_BUILDER: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar("mlcore_pipeline_builder", default=None)


def _handle_of(value: Any, where: str) -> OutputHandle | None:
    if isinstance(value, OutputHandle):
        return value
    if isinstance(value, Task):
        try:
            return value.output
        except AttributeError as e:
            raise TypeError(f"{where}: {e}") from None
    return None


class Pipeline:
    """A pipeline function; ``spec()`` builds its PipelineSpec dict, ``to_yaml()`` its file text,
    ``lint()`` checks it. Its arguments are the pipeline's inputs; its return value (a handle, or
    a dict of them) its outputs."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, description: str = "",
                 project: str = "", experiment: str = "", cache: bool | None = None,
                 labels: Mapping[str, str] | None = None, exit_handler: Component | None = None):
        self.fn = fn
        self.name = name or _step_name(fn.__name__)
        self.description = description or (inspect.getdoc(fn) or "").split("\n\n")[0]
        self.project = project
        self.experiment = experiment
        self.cache = cache
        self.labels = dict(labels or {})
        self.exit_handler = exit_handler
        self.__wrapped__ = fn
        self.__doc__ = fn.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"pipeline {self.name!r} is not called directly: compile it "
                        f"(mlcore.compile({self.fn.__name__}, 'pipeline.yaml')) or check it "
                        f"({self.fn.__name__}.lint())")

    def spec(self) -> dict[str, Any]:
        """The pipeline as an ``mlcore.v1.PipelineSpec`` dict (proto field names)."""
        where = f"pipeline {self.name!r}"
        inputs, arg_outputs, _ = analyze(self.fn)
        if arg_outputs:
            raise TypeError(f"{where}: Output[...] arguments belong to components; a pipeline's "
                            f"outputs are what it returns")
        builder = _Builder(self.name)
        token = _BUILDER.set(builder)
        try:
            returned = self.fn(**{d.name: OutputHandle(None, d) for d in inputs})
        finally:
            _BUILDER.reset(token)
        spec: dict[str, Any] = {"name": self.name}
        for key, value in (("description", self.description), ("project", self.project),
                           ("experiment", self.experiment)):
            if value:
                spec[key] = value
        if self.labels:
            spec["labels"] = dict(self.labels)
        if self.cache is not None:
            spec["cache"] = "CACHE_POLICY_ENABLED" if self.cache else "CACHE_POLICY_DISABLED"
        spec["inputs"] = [d.to_spec() for d in inputs]
        edges: list[dict[str, str]] = []
        spec["steps"] = [self._step(t, edges) for t in builder.tasks]
        outputs = self._outputs(returned, where)
        spec["outputs"] = []
        for out_name, handle in outputs.items():
            spec["outputs"].append(handle.decl._replace(name=out_name, optional=False,
                                                        default=_NO_DEFAULT).to_spec())
            edges.append(self._edge(handle, "", out_name))
        spec["edges"] = edges
        if self.exit_handler is not None:
            handler = Task(self.exit_handler, self.exit_handler.name, {})
            spec["exit_handler"] = self._step(handler, edges)
        return spec

    @staticmethod
    def _outputs(returned: Any, where: str) -> dict[str, OutputHandle]:
        if returned is None:
            return {}
        if isinstance(returned, Mapping):
            out = {}
            for key, value in returned.items():
                handle = _handle_of(value, f"{where}: output {key!r}")
                if handle is None:
                    raise TypeError(f"{where}: output {key!r} must be a step or a step's output, "
                                    f"not {type(value).__name__}")
                out[str(key)] = handle
            return out
        handle = _handle_of(returned, f"{where}: its return value")
        if handle is None:
            raise TypeError(f"{where} returns {type(returned).__name__}; return a step's output "
                            f"(or a dict of them) to make pipeline outputs, or nothing")
        return {"output": handle}

    @staticmethod
    def _edge(handle: OutputHandle, target_step: str, target_name: str) -> dict[str, str]:
        edge = {"source_name": handle.decl.name, "target_name": target_name}
        if handle.task is not None:
            edge["source_step"] = handle.task.name
        if target_step:
            edge["target_step"] = target_step
        return edge

    def _step(self, task: Task, edges: list[dict[str, str]]) -> dict[str, Any]:
        comp = task.component
        inputs = []
        for decl in comp.inputs:
            value = task.arguments.get(decl.name, _NO_DEFAULT)
            handle = _handle_of(value, f"step {task.name!r}: input {decl.name!r}")
            if task.parallel and task.parallel["input"] == decl.name:
                decl = decl._replace(parameter_type="PARAMETER_TYPE_LIST", kind="parameter")
            if handle is not None:
                edges.append(self._edge(handle, task.name, decl.name))
                inputs.append(decl.to_spec())
            elif value is not _NO_DEFAULT:
                inputs.append(decl.to_spec(default=value))  # a constant
            else:
                inputs.append(decl.to_spec())
        step: dict[str, Any] = {"name": task.name, "job": dict(comp.job), "inputs": inputs,
                                "outputs": [d.to_spec() for d in comp.outputs]}
        if task.condition:
            step["condition"] = task.condition
        if task.parallel:
            step["parallel_for"] = dict(task.parallel)
        if task.retry:
            step["retry"] = dict(task.retry)
        if task.cache is not None:
            step["cache"] = "CACHE_POLICY_ENABLED" if task.cache else "CACHE_POLICY_DISABLED"
        if task.depends_on:
            step["depends_on"] = [t.name for t in task.depends_on]
        return step

    def to_yaml(self) -> str:
        """The pipeline file text (what ``compile`` writes)."""
        from mlcore import _mlcore
        return _mlcore.pipeline_spec_to_yaml(self.spec())

    def lint(self, *, client: Any = None) -> "LintReport":
        """Checks the pipeline with the client's linter (see :func:`lint`)."""
        return lint(self, client=client)

    def __repr__(self) -> str:
        return f"<mlcore pipeline {self.name!r}>"


def pipeline(fn: Callable[..., Any] | None = None, *, name: str | None = None,
             description: str = "", project: str = "", experiment: str = "",
             cache: bool | None = None, labels: Mapping[str, str] | None = None,
             exit_handler: Component | None = None) -> Any:
    """Makes a function that calls components a pipeline (``@pipeline`` or
    ``@pipeline(name="nightly", cache=False)``). Its typed arguments are the pipeline's inputs;
    what it returns (a step, a step's output, or a dict of them) its outputs. ``exit_handler``:
    a component run after every other step, whatever their outcome."""

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name=name, description=description, project=project,
                        experiment=experiment, cache=cache, labels=labels,
                        exit_handler=exit_handler)

    return wrap(fn) if fn is not None else wrap


# --- compile and lint ---------------------------------------------------------------------------

class LintReport:
    """What the linter found: ``problems`` (records with severity, code, file, line, column,
    field_path, message, suggestion), ``ok`` (no errors), ``resolved_spec`` (the spec with
    defaults filled in, when ok). ``str(report)`` prints them as ``mlc pipeline lint`` does."""

    def __init__(self, response: Mapping[str, Any]):
        self.problems = [Record(p) for p in response.get("problems", [])]
        self.resolved_spec: dict[str, Any] | None = response.get("resolved_spec")

    @property
    def ok(self) -> bool:
        return self.resolved_spec is not None

    @property
    def errors(self) -> list[Record]:
        return [p for p in self.problems if p.get("severity") == "LINT_SEVERITY_ERROR"]

    @property
    def warnings(self) -> list[Record]:
        return [p for p in self.problems if p.get("severity") == "LINT_SEVERITY_WARNING"]

    def raise_for_errors(self) -> "LintReport":
        """Raises InvalidArgumentError listing every problem when any is an error."""
        if not self.ok:
            raise InvalidArgumentError(f"the pipeline has {len(self.errors)} error(s):\n{self}")
        return self

    def __str__(self) -> str:
        from mlcore import _mlcore
        return _mlcore.format_lint_problems([p.to_dict() for p in self.problems]).rstrip("\n")

    def __repr__(self) -> str:
        return f"<LintReport ok={self.ok} errors={len(self.errors)} warnings={len(self.warnings)}>"


def _request(source: Any, text: str | None, file: str | None) -> dict[str, Any]:
    if text is not None:
        return {"text": text, "file": file or ""}
    if isinstance(source, Pipeline):
        return {"spec": source.spec()}
    if isinstance(source, Mapping):
        return {"spec": dict(source)}
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, encoding="utf-8") as f:
                content = f.read()
        except FileNotFoundError:
            from mlcore.errors import NotFoundError
            raise NotFoundError(f"cannot read pipeline file {path}") from None
        return {"text": content, "file": file or path}
    raise TypeError(f"lint takes a @pipeline, a spec dict or a file path, not {type(source).__name__}")


def lint(source: Any = None, *, text: str | None = None, file: str | None = None,
         client: Any = None) -> LintReport:
    """Checks a pipeline without running it (``PipelineService.LintPipeline``): ``source`` is a
    ``@pipeline``, a PipelineSpec dict or a file path (YAML or JSON); or pass ``text=``. Flavors
    are checked against the client's backend. Problems are in the report, not raised."""
    from mlcore.jobs import _client
    c = _client(client)
    return LintReport(c.invoke("PipelineService/LintPipeline", _request(source, text, file)))


def compile(pipeline_: Pipeline, path: str | os.PathLike | None = None, *, check: bool = True,
            client: Any = None) -> str:  # noqa: A001 - mirrors the DSL's vocabulary
    """Writes the pipeline to ``path`` (YAML; JSON when the name ends in .json) and returns the
    text. With ``check`` (the default) it is linted first and InvalidArgumentError lists every
    problem when one is an error, so a written file always passes ``mlc pipeline lint``."""
    if not isinstance(pipeline_, Pipeline):
        raise TypeError(f"compile takes a @mlcore.pipeline function, not {type(pipeline_).__name__}")
    spec = pipeline_.spec()
    if check:
        lint(spec, client=client).raise_for_errors()
    if path is not None and os.fspath(path).endswith(".json"):
        text = json.dumps(spec, indent=2) + "\n"
    else:
        from mlcore import _mlcore
        text = _mlcore.pipeline_spec_to_yaml(spec)
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return text


__all__ = ["Artifact", "Component", "Dataset", "Input", "LintReport", "Metrics", "Output",
           "OutputHandle", "Pipeline", "Task", "analyze", "compile", "component",
           "container_component", "lint", "pipeline"]
