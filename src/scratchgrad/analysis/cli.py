"""`scratchgrad summary MODEL --input 3,224,224`: the summary table of a model of scratchgrad.models.

    scratchgrad summary resnet50 --input 3,224,224
    scratchgrad summary lenet --input 1,28,28 --num-classes 10
    scratchgrad summary vgg16 --json runs/vgg16-summary.json

Wired into the main CLI by `command("summary", SUMMARY_HELP)(setup_summary_parser)`.
"""
from __future__ import annotations

import argparse
import inspect
import math
from pathlib import Path

SUMMARY_HELP = "a model's layers: output shapes, parameters, MACs, receptive field (`summary MODEL --input C,H,W`)"


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected a sample shape like 3,224,224, got {text!r}")
    return shape


def setup_summary_parser(p: argparse.ArgumentParser):
    """Declare the arguments of `summary` on parser `p`; returns the function that runs it."""
    p.add_argument("model", help="a model name of scratchgrad.models (e.g. resnet50, vgg16, lenet)")
    p.add_argument("--input", type=_shape, default=(3, 224, 224), metavar="C,H,W",
                   help="shape of one input sample without the batch axis (default 3,224,224)")
    p.add_argument("--num-classes", type=int, default=None, help="number of classes (default: the model's)")
    p.add_argument("--batch-size", type=int, default=1, help="batch size of the forward pass (default 1)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the summary as JSON")
    return run_summary


def build_model(name: str, input_shape: tuple, num_classes: int | None = None):
    """get_model(name) fitted to the input: in_channels = C and input_size = (C, H, W) for image models
    (the zoo's keywords), in_features = C*H*W for the MLP, num_classes if given. A keyword is passed
    when the model's builder names it, or takes **kwargs (the zoo's builders do)."""
    from ..models import _builder
    builder = _builder(name)  # ValueError listing the models for an unknown name
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        params = {}
    any_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    wanted = {"num_classes": num_classes, "in_features": math.prod(input_shape)}
    if len(input_shape) == 3:
        wanted.update(in_channels=input_shape[0], input_size=tuple(input_shape))
    kwargs = {k: v for k, v in wanted.items()
              if v is not None and (k in params or (any_kw and k != "in_features"))}
    return builder(**kwargs)


def run_summary(args):
    import scratchgrad as sg
    from ..cli import CLIError
    from ..labs._common import write_json
    try:
        model = build_model(args.model, args.input, args.num_classes)
    except ValueError as e:
        raise CLIError(str(e)) from None
    except TypeError as e:
        raise CLIError(f"cannot build {args.model!r} with these options: {e}") from None
    try:
        s = sg.summary(model, args.input, batch_size=args.batch_size)
    except (ValueError, RuntimeError) as e:
        raise CLIError(f"{args.model} does not run on input {args.input}: {e}") from None
    s.model_name = args.model
    print(s)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, s.to_dict())
        print(f"wrote {args.json}")
    return s


__all__ = ["SUMMARY_HELP", "setup_summary_parser", "run_summary", "build_model"]
