"""The computational graph as Graphviz DOT text (the book's chapter 5 picture)."""
from __future__ import annotations

import shutil
import subprocess


def _tensor_label(t):
    name = f"{t.name}\\n" if t.name else ""
    return f"{name}{tuple(t.shape)} {t.dtype}"


def to_dot(output, path: str | None = None) -> str:
    """Return the graph that produced `output` as DOT text.

    Tensors are ellipses (name, shape, dtype), Functions boxes. If `path` ends in
    .png/.svg/.pdf and the `dot` program exists, the picture is rendered there too.
    """
    lines = ["digraph G {", '  rankdir="LR";', '  node [fontname="Helvetica"];']
    seen_t, seen_f = set(), set()

    def add_tensor(t):
        if id(t) not in seen_t:
            seen_t.add(id(t))
            color = ', style=filled, fillcolor="#ffe9a8"' if t.is_leaf and t.requires_grad else ""
            lines.append(f'  t{id(t)} [label="{_tensor_label(t)}", shape=ellipse{color}];')

    add_tensor(output)
    stack = [output.creator] if output.creator is not None else []
    if output.creator is not None:
        lines.append(f"  f{id(output.creator)} -> t{id(output)};")
    while stack:
        f = stack.pop()
        if id(f) in seen_f:
            continue
        seen_f.add(id(f))
        lines.append(f'  f{id(f)} [label="{f.name}", shape=box, style=filled, fillcolor="#d6e4ff"];')
        for x in f.inputs or ():
            add_tensor(x)
            lines.append(f"  t{id(x)} -> f{id(f)};")
            if x.creator is not None:
                lines.append(f"  f{id(x.creator)} -> t{id(x)};")
                stack.append(x.creator)
    lines.append("}")
    text = "\n".join(dict.fromkeys(lines)) + "\n"
    if path is not None:
        fmt = path.rsplit(".", 1)[-1]
        if fmt == "dot":
            with open(path, "w") as fh:
                fh.write(text)
        elif shutil.which("dot"):
            subprocess.run(["dot", f"-T{fmt}", "-o", path], input=text.encode(), check=True)
        else:
            raise RuntimeError("to_dot: the Graphviz `dot` program is not installed; save as .dot instead")
    return text
