"""Checkpoints as safetensors files: arrays plus JSON metadata, never pickle.

    save("model.safetensors", model.state_dict(), {"epoch": 3})
    tensors, meta = load("model.safetensors")

    save_state("train_state.safetensors", {"model": model.state_dict(), "optim": opt.state_dict(),
                                           "epoch": 3, "rng": rng_state(gen)})
    state = load_state("train_state.safetensors")      # the same nested structure back

A nested state (an optimizer's state_dict, a scheduler's, a history list) is split in
two: every array goes into the tensor table under its dotted path
("optim.state.3.exp_avg"), and the rest becomes JSON with `{"__tensor__": key}`
placeholders. Safetensors stores only named arrays and string metadata, so loading
a file can never run code.

Every write is atomic: a temporary file in the same folder, fsync, then `os.replace`,
so a kill during a save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .tensor import Tensor

META_KEY = "scratchgrad"  # the safetensors metadata entry holding our JSON


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (truncated, corrupt, not safetensors)."""


# ---- files: arrays + JSON metadata ------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save(path, tensors: dict, metadata: dict | None = None) -> None:
    """Write `{name: array or Tensor}` and JSON-able `metadata` to a safetensors file, atomically."""
    from safetensors.numpy import save as to_bytes
    # np.require keeps 0-d arrays 0-d (np.ascontiguousarray would make them shape (1,))
    arrays = {k: np.require(v.data if isinstance(v, Tensor) else v, requirements="C") for k, v in tensors.items()}
    atomic_write_bytes(path, to_bytes(arrays, metadata={META_KEY: json.dumps(metadata or {})}))


def load(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by `save`: `({name: ndarray}, metadata)`.

    Raises FileNotFoundError for a missing file and CheckpointError for a damaged one.
    """
    from safetensors import safe_open
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            raw_meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = json.loads(raw_meta.get(META_KEY, "{}"))
    except Exception as e:  # safetensors raises its own error types for bad headers and short files
        raise CheckpointError(f"cannot read checkpoint {path} ({path.stat().st_size} bytes): it is truncated, "
                              f"corrupt or not a safetensors file ({type(e).__name__}: {e})") from e
    return tensors, metadata


# ---- nested states: split into arrays + JSON, and back ----------------------------------------
def pack(obj, prefix: str = "", tensors: dict | None = None):
    """(JSON-able skeleton, {dotted key: array}) for nested dicts/lists/tuples of arrays and scalars.

    Exact types survive the round trip: Tensors, arrays, NumPy scalars (stored as 0-d arrays),
    tuples, and dicts with non-string keys (such as an optimizer's integer parameter ids).
    """
    tensors = {} if tensors is None else tensors
    key = prefix.rstrip(".")
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        kind = "tensor" if isinstance(obj, Tensor) else "scalar" if isinstance(obj, np.generic) else "array"
        if key in tensors:
            raise ValueError(f"two entries of the state map to the same checkpoint key '{key}'")
        arr = np.asarray(obj.data if isinstance(obj, Tensor) else obj)
        tensors[key] = arr.copy()
        return {"__tensor__": key, "kind": kind, "shape": list(arr.shape)}, tensors  # safetensors turns () into (1,)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj, tensors
    if isinstance(obj, dict):
        items = [(k, pack(v, f"{prefix}{k}.", tensors)[0]) for k, v in obj.items()]
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return dict(items), tensors
        return {"__items__": [[k, v] for k, v in items]}, tensors
    if isinstance(obj, (list, tuple)):
        items = [pack(v, f"{prefix}{i}.", tensors)[0] for i, v in enumerate(obj)]
        return ({"__tuple__": items} if isinstance(obj, tuple) else items), tensors
    raise TypeError(f"cannot store {type(obj).__name__} at '{key}' in a checkpoint (arrays, numbers, strings, "
                    "None, lists, tuples and dicts only)")


def unpack(skeleton, tensors: dict):
    """Inverse of `pack`: rebuild the nested state from its JSON skeleton and arrays."""
    if isinstance(skeleton, list):
        return [unpack(v, tensors) for v in skeleton]
    if not isinstance(skeleton, dict):
        return skeleton
    if "__tensor__" in skeleton:
        arr = tensors[skeleton["__tensor__"]].reshape(skeleton["shape"])
        return {"tensor": Tensor, "scalar": lambda a: a[()]}.get(skeleton["kind"], lambda a: a)(arr)
    if "__tuple__" in skeleton:
        return tuple(unpack(v, tensors) for v in skeleton["__tuple__"])
    if "__items__" in skeleton:
        return {k: unpack(v, tensors) for k, v in skeleton["__items__"]}
    return {k: unpack(v, tensors) for k, v in skeleton.items()}


def save_state(path, state: dict) -> None:
    """Save a nested state (see `pack`) to one safetensors file, atomically."""
    skeleton, tensors = pack(state)
    save(path, tensors, {"state": skeleton})


def load_state(path) -> dict:
    """Load a nested state written by `save_state`."""
    tensors, metadata = load(path)
    if "state" not in metadata:
        raise CheckpointError(f"{path} holds plain tensors, not a training state written by save_state")
    return unpack(metadata["state"], tensors)


# ---- random generators ------------------------------------------------------------------------
def rng_state(generator: np.random.Generator) -> dict:
    """The generator's exact position (a JSON-able dict; PCG64's 128-bit ints are Python ints)."""
    return generator.bit_generator.state


def set_rng_state(generator: np.random.Generator, state: dict) -> None:
    """Put `generator` back at a position saved by `rng_state` (in place)."""
    generator.bit_generator.state = state
