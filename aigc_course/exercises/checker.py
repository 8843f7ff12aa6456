"""How :func:`check` runs a student's function and reports: the public API
(:func:`check`, :func:`choose`, :func:`list_exercises`, :func:`reference`) and its
machinery (converting inputs and outputs between NumPy and the frameworks, the
time limit, comparing, recognising a catalogued mistake, the report).
What is checked is in :mod:`aigc_course.exercises.catalogue`.
"""

from __future__ import annotations

import inspect
import signal
import textwrap
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_number
from .catalogue import ATOL, EXERCISES, RTOL, Case, Exercise

TIME_LIMIT = 10.0  # seconds per call of the student's function
_FRAMEWORKS = {
    None: "numpy",
    "numpy": "numpy",
    "np": "numpy",
    "torch": "torch",
    "pytorch": "torch",
    "keras": "keras",
    "tensorflow": "tensorflow",
    "tf": "tensorflow",
}


@dataclass
class _Failure:
    index: int
    case: Case
    expected: np.ndarray
    got: np.ndarray | None = None
    raw_type: str = ""
    error: BaseException | None = None
    where: str = ""
    reason: str = ""


# ----- public API ------------------------------------------------------------------------
def list_exercises() -> list:
    """Names of the exercises :func:`check` knows, in course order."""
    return list(EXERCISES)


def reference(name: str) -> Callable:
    """The NumPy reference solution of exercise ``name`` (its docstring states the rule)."""
    return _get(name).reference


def check(
    name: str,
    fn: Callable,
    framework=None,
    trials: int = 5,
    seed: int = 0,
    time_limit=TIME_LIMIT,
) -> bool:
    """Run ``fn`` on ``trials`` random inputs plus the edge cases and compare with the reference.

    Prints "✅ name: correct on N inputs", or the first input where ``fn`` is wrong
    (or raised), expected vs received, and a hint. Returns True when all inputs pass.
    ``framework``: None or "numpy" (fn gets float32 arrays), "torch", "keras" or
    "tensorflow" (fn gets tensors of that kind); the output may be of any kind.
    ``time_limit``: seconds one call may take (None: no limit); a slower call is
    stopped and reported. Never raises because of what ``fn`` does or returns.
    """
    ex = _get(name)
    if not callable(fn):
        raise ValueError(f"fn: expected a function, got {type(fn).__name__}")
    key = framework.lower() if isinstance(framework, str) else framework
    if not (key is None or isinstance(key, str)) or key not in _FRAMEWORKS:
        raise ValueError(
            f"framework: expected None, 'numpy', 'torch', 'keras' or 'tensorflow', got {framework!r}"
        )
    fw = _FRAMEWORKS[key]
    trials = check_int(trials, "trials", minimum=0)
    seed = check_int(seed, "seed", minimum=None)
    if time_limit is not None:
        check_number(
            time_limit,
            "time_limit",
            0,
            1e6,
            low_open=True,
            high_open=True,
            expected="None or a positive number of seconds",
        )
    convert = _converter(fw)
    cases = ex.cases(np.random.default_rng(seed), trials)
    call = _timed(fn, time_limit)

    failures = []
    for i, c in enumerate(cases):
        f = _run_case(ex, call, convert, i, c)
        if f is not None:
            failures.append(f)
            if isinstance(f.error, _TimeLimit):
                _report_slow(ex, fw, cases, f, time_limit)
                return False
    if not failures:
        print(f"✅ {ex.name}: correct on {len(cases)} inputs")
        return True
    first = failures[0]
    if len(failures) == len(cases) and all(
        isinstance(f.error, NotImplementedError) for f in failures
    ):
        print(
            f"⏳ {ex.name}: not implemented yet (your function raised NotImplementedError).\n"
            + "\n".join(
                textwrap.wrap(
                    f"to do: {ex.task}",
                    100,
                    initial_indent="   ",
                    subsequent_indent="     ",
                )
            )
            + "\n   Replace the `raise NotImplementedError` line with your code and run the "
            "cell again."
        )
        return False
    try:
        hints = _hints(ex, call, convert, fw, failures)
    except Exception:  # never let a strange output break the report
        hints = []
    try:
        _report(ex, fw, cases, failures, first, hints)
    except Exception as e:
        print(
            f"❌ {ex.name}: wrong on {len(failures)} of {len(cases)} inputs "
            f"(first: input {first.index + 1}, {first.case.label}): {first.reason} "
            f"[the detailed report failed: {type(e).__name__}: {e}]"
        )
    return False


def choose(
    name: str, mine: Callable, solution: Callable, framework=None, time_limit=TIME_LIMIT
) -> Callable:
    """``mine`` if it passes :func:`check` (run silently), else ``solution``, saying which.

    An exercise notebook assembles its pieces with this, so that it runs from top
    to bottom (and in CI) while some stubs still raise ``NotImplementedError``;
    as soon as the student's function is correct, it is the one used.
    """
    import contextlib
    import io

    if not callable(solution):
        raise ValueError(
            f"solution: expected a function, got {type(solution).__name__}"
        )
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        ok = check(name, mine, framework=framework, time_limit=time_limit)
    if ok:
        print(f"{name}: using your function")
        return mine
    why = (
        "is not implemented yet"
        if report.getvalue().startswith("⏳")
        else "does not pass check()"
    )
    print(f"{name}: your function {why}, using the worked solution")
    return solution


# ----- machinery ----------------------------------------------------------------------------
class _TimeLimit(BaseException):
    """Raised inside a student's function that runs too long (a BaseException, so that
    an ``except Exception`` in the student's code does not swallow it)."""


def _timed(fn, limit):
    """``fn`` wrapped so that a call longer than ``limit`` seconds raises :class:`_TimeLimit`.

    In the main thread (a notebook cell) a SIGALRM timer interrupts the function;
    elsewhere (or without SIGALRM, e.g. on Windows) it runs in a daemon thread
    that is abandoned when the limit passes.
    """
    if limit is None:
        return fn
    limit = float(limit)

    def with_signal(*args):
        def handler(signum, frame):
            raise _TimeLimit()

        old_handler = signal.signal(signal.SIGALRM, handler)
        old_timer = signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_timer[0] > 0:  # someone else's timer: give it back
                signal.setitimer(signal.ITIMER_REAL, *old_timer)

    def with_thread(*args):
        out = {}

        def run():
            try:
                out["value"] = fn(*args)
            except BaseException as e:  # handed over to the caller below
                out["error"] = e

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(limit)
        if t.is_alive():
            raise _TimeLimit()
        if "error" in out:
            raise out["error"]
        return out["value"]

    def call(*args):
        main = threading.current_thread() is threading.main_thread()
        if main and hasattr(signal, "setitimer"):
            return with_signal(*args)
        return with_thread(*args)

    call.__wrapped__ = fn
    return call


def _report_slow(ex, fw, cases, f, limit):
    lines = [
        f"⏱ {ex.name}: your function did not return within {limit:g} s on input "
        f"{f.index + 1} of {len(cases)} ({f.case.label}), {fw} inputs; it was stopped."
    ]
    w = max(map(len, ex.params)) + 2
    try:
        for pname, a in zip(ex.params, f.case.args):
            lines += _describe(pname, a, w)
    except Exception:
        pass
    lines.append(
        "   hint: an endless loop (a while loop whose condition never changes), or far "
        "more work than the task needs (a Python loop over every element of a large "
        "array)? check(..., time_limit=...) sets the limit, in seconds."
    )
    print("\n".join(lines))


def _get(name) -> Exercise:
    if not isinstance(name, str) or name not in EXERCISES:
        raise ValueError(
            f"unknown exercise {name!r}; known exercises: {', '.join(EXERCISES)}"
        )
    return EXERCISES[name]


def _converter(fw):
    """float32 array -> what ``fn`` receives (a fresh copy each call: fn may work in place)."""
    if fw == "numpy":
        return lambda a: np.array(a, copy=True)
    try:
        if fw == "torch":
            import torch

            return lambda a: torch.tensor(np.array(a, copy=True))
        if fw == "keras":
            import keras

            return lambda a: keras.ops.convert_to_tensor(np.array(a, copy=True))
        import tensorflow as tf

        return lambda a: tf.constant(np.array(a, copy=True))
    except ImportError as e:
        raise ImportError(f"framework={fw!r} needs {fw} installed ({e})") from e


def _to_numpy(x) -> np.ndarray:
    """A torch / TensorFlow / Keras / JAX tensor, NumPy array or Python number -> NumPy."""
    if x is None:
        raise TypeError("your function returned None: did you forget `return`?")
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (tuple, list)):
        return np.asarray([_to_numpy(v) for v in x])
    if type(x).__name__ == "KerasTensor":
        raise TypeError(
            "your function returned a symbolic KerasTensor; compute on the tensors "
            "you are given (keras.ops...), outside a keras.Input / Model graph"
        )
    if type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach"):
        x = x.detach()
        if str(x.dtype) in ("torch.bfloat16",):
            x = x.float()
        return x.cpu().numpy()
    if hasattr(x, "numpy") and callable(x.numpy):  # TF EagerTensor, tf / keras Variable
        return np.asarray(x.numpy())
    out = np.asarray(x)
    if out.dtype == object:
        raise TypeError(f"could not turn the returned {type(x).__name__} into an array")
    return out


def _type_name(x) -> str:
    t = type(x)
    mod = t.__module__.split(".")[0]
    return t.__name__ if mod == "builtins" else f"{mod}.{t.__name__}"


def _run_case(ex, fn, convert, i, case):
    expected = np.asarray(ex.reference(*case.args))
    args = [convert(a) if isinstance(a, np.ndarray) else a for a in case.args]
    try:
        raw = fn(*args)
    except _TimeLimit as e:
        return _Failure(i, case, expected, error=e, reason="did not return in time")
    except (Exception, SystemExit) as e:  # the student's bug: report it, never raise
        return _Failure(
            i,
            case,
            expected,
            error=e,
            where=_where(getattr(fn, "__wrapped__", fn), e),
            reason=f"raised {type(e).__name__}: {_short(str(e), 300)}",
        )
    try:
        got = _to_numpy(raw)
    except Exception as e:
        return _Failure(
            i,
            case,
            expected,
            raw_type=_type_name(raw),
            error=e,
            reason=f"output could not be read: {e}",
        )
    reason = _compare(ex, expected, got)
    if reason:
        return _Failure(
            i, case, expected, got=got, raw_type=_type_name(raw), reason=reason
        )
    return None


def _where(fn, e) -> str:
    """The line of the student's code where the exception happened (or the deepest frame)."""
    frames = traceback.extract_tb(e.__traceback__)[1:]
    if not frames:
        return ""
    try:
        src = inspect.getsourcefile(fn)
    except TypeError:
        src = None
    mine = [f for f in frames if f.filename == src] or frames
    f = mine[-1]
    return (
        f"line {f.lineno} in {f.name}: {f.line}"
        if f.line
        else f"line {f.lineno} in {f.name}"
    )


def _shape_ok(ex, expected, got):
    if ex.output == "scalar":
        return got.size == 1
    return got.shape == expected.shape


def _as_float(a):
    with np.errstate(all="ignore"):
        return np.asarray(a).astype(np.float64)


def _numeric(a) -> bool:
    """Real numbers or booleans (what :func:`_compare` can compare)."""
    return np.asarray(a).dtype.kind in "biuf"


def _dtype_hint(got) -> str:
    kind, dtype = got.dtype.kind, got.dtype
    if kind in "US":
        what = f"text (dtype {dtype}), not numbers: did you return a formatted string or a str(...)?"
    elif kind == "O":
        what = (
            f"an object array (dtype {dtype}): values of mixed types or nested sequences of "
            "different lengths, not one array of numbers."
        )
    elif kind == "c":
        what = (
            f"complex numbers (dtype {dtype}): a square root or a power of a negative number, "
            "or np.emath / complex arithmetic somewhere?"
        )
    else:
        what = f"values of dtype {dtype}, not numbers."
    return (
        f"Your function returned {what} Return real numbers: a float array or tensor "
        "(NumPy, torch, TensorFlow, Keras) or a Python float."
    )


def _compare(ex, expected, got):
    """None when ``got`` passes, else a short reason."""
    if not _shape_ok(ex, expected, got):
        return f"shape differs: expected {expected.shape}, received {got.shape}"
    if got.dtype.kind not in "biuf":
        return f"dtype {got.dtype} is not numeric"
    g = _as_float(got).reshape(expected.shape)
    e = expected.astype(np.float64)
    if ex.output == "bool":
        if not np.array_equal(g, e):
            return f"{int(np.sum(g != e))} of {e.size} entries differ"
        if got.dtype != bool:
            return f"values right but dtype is {got.dtype}, expected bool"
        return None
    if not np.allclose(g, e, rtol=RTOL, atol=ATOL):
        return "values differ"
    return None


def _matches(out, got) -> bool:
    """Does the student's output equal a mistake's output (loose tolerance, nan == nan)?"""
    out = np.asarray(out)
    if not (_numeric(out) and _numeric(got)):
        return False
    if got.size == 1 and out.size == 1:
        got, out = got.reshape(()), out.reshape(())
    if got.shape != out.shape:
        return False
    return bool(
        np.allclose(
            _as_float(got), _as_float(out), rtol=1e-3, atol=1e-4, equal_nan=True
        )
    )


def _mistake_fits(m, f) -> bool:
    if m.only_tags and f.case.tag not in m.only_tags:
        return False
    if m.test is not None:
        return f.got is not None and bool(m.test(f))
    if m.impl is None:
        return True  # only_tags alone: "fails exactly on these inputs"
    if f.got is None:
        return False
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(m.impl(*f.case.args))
    except Exception:
        return False
    # the mistake is harmless on this input
    if _matches(out, f.expected.astype(np.float64)):
        return False
    return _matches(out, f.got)


def _raises_alike(m, f) -> bool:
    """Whether the catalogued mistake ``m`` raises on ``f``'s input as the student's
    function did (the same exception type and message)."""
    if m.impl is None or (m.only_tags and f.case.tag not in m.only_tags):
        return False
    try:
        with np.errstate(all="ignore"):
            m.impl(*f.case.args)
    except Exception as e:
        return type(e) is type(f.error) and str(e) == str(f.error)
    return False


def _hints(ex, fn, convert, fw, failures):
    first = failures[0]
    hints = []
    if first.error is not None:
        # a catalogued mistake that raises the same error here, and gives the
        # student's outputs where the student's function returned
        with_output = [f for f in failures if f.got is not None]
        for m in ex.mistakes:
            if _raises_alike(m, first) and all(
                _mistake_fits(m, f) for f in with_output
            ):
                return [m.hint, _error_hint(ex, fw, first)]
        return [_error_hint(ex, fw, first)]
    if first.got is not None and not _numeric(first.got):
        return [_dtype_hint(first.got)]
    # 1) the function draws its own randomness
    try:
        again = _to_numpy(
            fn(
                *[
                    convert(a) if isinstance(a, np.ndarray) else a
                    for a in first.case.args
                ]
            )
        )
        if not _numeric(again):
            raise TypeError("not numeric")
        if again.shape != first.got.shape or not np.allclose(
            _as_float(again), _as_float(first.got), equal_nan=True
        ):
            hints.append(
                "Your function gives different outputs for the same input: do not draw "
                "random numbers inside it (use the eps argument, not torch.randn_like / "
                "keras.random.normal / np.random)."
            )
    except (Exception, _TimeLimit, SystemExit):
        pass
    # 2) a catalogued mistake: one that fits every failing input, else the first one
    with_output = [f for f in failures if f.got is not None]
    found = None
    for m in ex.mistakes:
        if with_output and all(_mistake_fits(m, f) for f in with_output):
            found = m
            break
    if found is None:
        found = next(
            (
                m
                for m in ex.mistakes
                if m.impl is not None or m.test is not None
                if _mistake_fits(m, first)
            ),
            None,
        )
    if found is not None and not hints:
        hints.append(found.hint.replace("{dtype}", str(first.got.dtype)))
        if ex.output == "bool" and first.got.dtype != bool and found.test is None:
            hints.append(f"Also return dtype bool (you returned {first.got.dtype}).")
    if hints:
        return hints
    # 3) generic diagnoses
    got, exp = first.got, first.expected
    if not _shape_ok(ex, exp, got):
        hint = ex.shape_hint(first.case, exp, got) if ex.shape_hint else None
        return [hint or f"Expected shape {exp.shape}, received {got.shape}."]
    g, e = _as_float(got).reshape(exp.shape), exp.astype(np.float64)
    if np.any(~np.isfinite(g) & np.isfinite(e)):
        return [
            ex.nonfinite_hint
            or "nan/inf where the expected output is finite: a numerically unstable formula?"
        ]
    finite = np.isfinite(g) & np.isfinite(e)
    if np.any(finite & (np.abs(e) > 1e-6)):
        if np.allclose(g[finite], -e[finite], rtol=1e-3, atol=1e-4):
            return ["Sign error: you returned minus the expected value."]
        r = float(np.sum(g[finite] * e[finite]) / np.sum(e[finite] ** 2))
        if abs(r - 1) > 1e-3 and np.allclose(
            g[finite], r * e[finite], rtol=1e-3, atol=1e-4
        ):
            return [
                f"Off by a constant factor of {r:.4g}: a sum instead of a mean (or the other "
                "way round), or a missing or extra factor?"
            ]
        if np.allclose(g[finite], e[finite], rtol=1e-2, atol=1e-3):
            return [
                "Almost: the differences are small but larger than float32 rounding. Low "
                "precision (float16 / bfloat16), or an epsilon added somewhere?"
            ]
    return [
        f"No typical mistake recognised; compare with the formula: {ex.task}. "
        f"(help(aigc_course.exercises.reference({ex.name!r})) shows the rule.)"
    ]


def _error_hint(ex, fw, f) -> str:
    e, msg = f.error, str(f.error)
    if "returned None" in msg:
        return "Your function returned None: did you forget `return`?"
    if f.raw_type:  # the output could not be converted
        return (
            f"Your function returned a {f.raw_type}; return one array or tensor "
            "(NumPy, torch, TensorFlow or Keras) or a Python number."
        )
    specific = ex.error_hint(f.case, e) if ex.error_hint else None
    if specific:
        return specific
    low = msg.lower()
    if fw == "numpy" and ("tensor" in low or "torch" in low or "numpy.ndarray" in low):
        return (
            "Your function received NumPy arrays (framework=None) but seems to expect tensors: "
            "call check(name, fn, framework='torch') (or 'keras' / 'tensorflow')."
        )
    if fw != "numpy" and ("numpy" in low or "ndarray" in low):
        return (
            f"Your function received {fw} tensors (framework={fw!r}) but seems to expect NumPy "
            "arrays: call check(name, fn) without framework, or use the framework's ops."
        )
    if "dtype" in low or "scalar type" in low or "expected scalar" in low:
        return (
            "A dtype clash: the inputs are float32; create constants and new tensors as "
            "float32 too (e.g. torch.ones_like(x), keras.ops.ones_like(x))."
        )
    return (
        f"Your function raised on this input ({fw} inputs). Call it yourself on the input "
        "shown above to see the full traceback."
    )


def _short(s, n=80):
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 3] + "..."


def _num(v) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def _view(a) -> list:
    """A short view of an array: a few lines, values to 4 significant digits."""
    a = np.asarray(a)
    # text, objects, complex numbers: their repr, shortened
    if a.dtype.kind not in "biuf":
        flat = a.reshape(-1)
        shown = ", ".join(
            _short(repr(v.item() if hasattr(v, "item") else v), 30) for v in flat[:6]
        )
        return [
            "[" + shown + (f", ... ({flat.size} values)]" if flat.size > 6 else "]")
        ]
    if a.ndim == 0:
        return [str(bool(a)) if a.dtype == bool else _num(float(a))]
    if (
        a.ndim == 2
        and max(a.shape) <= 12
        and a.dtype.kind in "biuf"
        and np.all((a == 0) | (a == 1))
    ):
        # a 0/1 (mask) matrix
        return [" ".join("1" if v else "." for v in row) for row in a]
    if a.ndim == 2 and a.shape[0] <= 4 and a.shape[1] <= 8:
        return ["[" + ", ".join(_num(float(v)) for v in row) + "]" for row in a]
    flat = a.reshape(-1)
    shown = ", ".join(_num(float(v)) for v in flat[:8])
    return ["[" + shown + (f", ... ({flat.size} values)]" if flat.size > 8 else "]")]


def _describe(label, a, width) -> list:
    pad = " " * 3
    if isinstance(a, (int, np.integer)) and not isinstance(a, bool):
        return [f"{pad}{label:<{width}}{int(a)}"]
    a = np.asarray(a)
    head = f"{pad}{label:<{width}}{a.dtype} {a.shape}"
    lines = _view(a)
    if len(lines) == 1 and len(head) + len(lines[0]) < 100:
        return [f"{head}  {lines[0]}"]
    return [head] + [f"{pad}{'':<{width}}  {line}" for line in lines]


def _diff_line(ex, exp, got) -> str:
    """Largest difference (where both are finite) and inf/nan disagreements, for float outputs."""
    if (
        ex.output == "bool"
        or not _shape_ok(ex, exp, got)
        or got.dtype.kind not in "biuf"
    ):
        return ""
    g, e = _as_float(got).reshape(exp.shape), exp.astype(np.float64)
    with np.errstate(all="ignore"):
        both = np.isfinite(g) & np.isfinite(e)
        odd = int(np.sum(~both & ~((g == e) | (np.isnan(g) & np.isnan(e)))))
        d = np.where(both, np.abs(g - e), 0.0)
    parts = []
    if np.any(both) and d.max() > 0:
        idx = np.unravel_index(int(np.argmax(d)), d.shape)
        where = f" at index {tuple(int(i) for i in idx)}" if d.ndim else ""
        parts.append(f"max abs diff {d[idx]:.4g}{where}")
    elif np.any(both):
        parts.append("the finite entries agree")
    if odd:
        parts.append(f"{odd} of {e.size} entries differ in inf/nan")
    return "; ".join(parts)


def _report(ex, fw, cases, failures, first, hints):
    n, w = len(cases), max(map(len, ex.params + ("expected",))) + 2
    pad = "   " + " " * w
    lines = [
        f"❌ {ex.name}: wrong on {len(failures)} of {n} inputs. First: input "
        f"{first.index + 1} of {n} ({first.case.label}), {fw} inputs"
    ]
    for pname, a in zip(ex.params, first.case.args):
        lines += _describe(pname, a, w)
    lines += _describe("expected", first.expected, w)
    if first.got is not None:
        lines += _describe("received", first.got, w)
        diff = _diff_line(ex, first.expected, first.got)
        lines.append(pad + (diff or first.reason))
    else:
        lines.append(f"   {'error':<{w}}{first.reason}")
        if first.where:
            lines.append(f"{pad}at {first.where}")
    for h in hints:
        lines += textwrap.wrap(
            h, 100, initial_indent="   hint: ", subsequent_indent=" " * 9
        )
    print("\n".join(lines))
