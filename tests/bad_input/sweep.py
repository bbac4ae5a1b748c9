"""Call one public function with every bad value of every parameter, one at a time, the other arguments
valid; collect what went wrong (a raw exception, an accepted value, an error that does not name the
parameter or echoes too much of the value, or anything written to the database or the emulator)."""

from __future__ import annotations

import inspect
from typing import Any

from billingos import BillingError, InvalidInputError, NotFoundError

from .kinds import LONG
from .surface import ANSWERS, BASE, DROP, FOREIGN, Function, Param, classify, public_functions, required
from .world import World

MAX_MESSAGE = 400          # characters: a message names the rule and echoes at most a short prefix
NOT_FOUND_OK = {"unknown lookup key", "unknown price id"}    # a lookup by a well-formed reference: 404


def find(world: World, qualname: str) -> Function:
    for fn in public_functions(world.billing):
        if fn.qualname == qualname:
            return fn
    raise LookupError(qualname)


def valid_value(world: World, spec: Param) -> Any:
    if spec.literal or spec.valid is None:
        return spec.valid
    return world.value(spec.valid)


def base_args(world: World, fn: Function, swept: inspect.Parameter) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for p in fn.params:
        if p.name == swept.name or p.kind is inspect.Parameter.VAR_KEYWORD or p.default is not inspect.Parameter.empty:
            continue
        spec = classify(fn, p)
        assert spec is not None, f"{fn.qualname}({p.name}) is not classified"
        args[p.name] = valid_value(world, spec)
    args.update(BASE.get(fn.qualname, {}))
    for name in DROP.get((fn.qualname, swept.name), ()):
        args.pop(name, None)
    return args


def sweep(world: World, fn: Function) -> tuple[list[str], int]:
    """Failures (empty when every case was refused cleanly) and the number of cases run."""
    failures: list[str] = []
    runs = 0
    emulator = world.billing.emulator
    before = (world.database(), world.stripe(), world.memory(), world.billing.now())
    for param in fn.params:
        spec = classify(fn, param)
        if spec is None:
            failures.append(f"{param.name}: no bad-input cases (classify it in tests/bad_input/surface.py)")
            continue
        for label, bad in spec.kind.cases(valid_value(world, spec), required=required(param)):
            runs += 1
            args = base_args(world, fn, param)
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                args.update(bad)
            else:
                args[param.name] = bad
            where = f"{param.name}={label}"
            sent = len(emulator.request_log)
            problem = _outcome(fn, param, spec, args, bad, label)
            if problem:
                failures.append(f"{where}: {problem}")
            writes = [f"{m} {p}" for m, p, _ in emulator.request_log[sent:] if m != "GET"]
            if writes:
                failures.append(f"{where}: sent Stripe writes {writes}")
            after = (world.database(), world.stripe(), world.memory(), world.billing.now())
            if after != before:
                changed = [name for name, a, b in zip(("database", "emulator", "memory", "clock"), before, after,
                                                      strict=True) if a != b]
                if after[0] != before[0]:
                    changed += [t for t in after[0] if after[0][t] != before[0].get(t)]
                failures.append(f"{where}: wrote {changed}")
                world.dirty = True
                before = after
    return failures, runs


def _outcome(fn: Function, param: inspect.Parameter, spec: Param, args: dict[str, Any], bad: Any,
             label: str) -> str | None:
    try:
        out = fn.fn(**args)
    except BillingError as e:
        if fn.qualname in ANSWERS:
            return f"raised {type(e).__name__} ({e}) where it must answer"
        message = str(e)
        if len(message) > MAX_MESSAGE or LONG[:200] in message:
            return f"{type(e).__name__} message of {len(message)} characters: {message[:120]!r}..."
        if not spec.kind.names_param:
            return None if e.status == 400 else f"{type(e).__name__} (status {e.status}) is not a 400: {message}"
        if not isinstance(e, InvalidInputError) and not (label in NOT_FOUND_OK and isinstance(e, NotFoundError)):
            return f"{type(e).__name__}, not InvalidInputError: {message[:200]}"
        names = [param.name] if param.kind is not inspect.Parameter.VAR_KEYWORD else list(bad)
        if not any(e.param == n or str(e.param).startswith((f"{n}[", f"{n}.")) for n in names):
            return f"InvalidInputError names param={e.param!r}, not {names}: {message[:200]}"
        return None
    except Exception as e:  # the point of the sweep: any other exception is a defect
        return f"RAW {type(e).__name__}: {str(e)[:200]}"
    if fn.qualname in ANSWERS:
        return None if ANSWERS[fn.qualname](out) else f"answered {out!r}"
    return f"accepted (returned {str(out)[:80]!r})"


def foreign(fn: Function, world: World | None = None) -> list[str]:
    """Without a world: the parameters that can name another owner's object (empty when the function has no
    ``owner_id``). With one: call with each of them, and return what went wrong."""
    names = {p.name for p in fn.params}
    creates = fn.qualname.endswith(".create")         # makes the owner's object; Stripe refuses a foreign one
    params = sorted(n for n in names if n in FOREIGN) if "owner_id" in names and not creates else []
    if world is None:
        return params
    failures = []
    for name in params:
        param = fn.signature.parameters[name]
        args = base_args(world, fn, param)
        args.update(owner_id=world.owner, **{name: world.value(FOREIGN[name])})
        before = (world.database(), world.stripe())
        try:
            out = fn.fn(**args)
        except NotFoundError:
            pass
        except Exception as e:
            failures.append(f"{name}: {type(e).__name__}, not NotFoundError: {str(e)[:150]}")
        else:
            failures.append(f"{name}: another owner's object was found ({str(out)[:80]})")
        if (world.database(), world.stripe()) != before:
            failures.append(f"{name}: wrote something")
            world.dirty = True
    return failures
