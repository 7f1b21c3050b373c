"""`scratchgrad rl train|eval`: train an agent on a gymnasium environment and write a run folder.

    scratchgrad rl train --algo q-learning --env CliffWalking
    scratchgrad rl train --algo dqn --env CartPole-v1 --seed 1 --out runs/dqn-cartpole
    scratchgrad rl train --algo value-iteration --env FrozenLake8x8-v1
    scratchgrad rl eval runs/dqn-cartpole --episodes 100

A run folder holds config.json (everything needed to rebuild the agent), metrics.json, returns.png
and the policy: q_table.safetensors (tabular and DP methods: Q, and V for DP) or model.safetensors
(network weights, PyTorch key names). Wiring into the main CLI is one line, either
`add_rl_parser(subparsers)` or, with scratchgrad.cli's decorator, `command("rl", RL_HELP)(setup_rl_parser)`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

RL_HELP = "reinforcement learning: `rl train --algo ALGO --env ID`, `rl eval RUN_DIR`"
TABULAR = ("q-learning", "sarsa", "expected-sarsa", "sarsa-lambda", "mc")
PLANNING = ("value-iteration", "policy-iteration")
DEEP = ("dqn", "double-dqn", "reinforce")
ALGOS = TABULAR + PLANNING + DEEP

# Defaults per environment family for the tabular methods: (episodes, alpha, gamma, epsilon).
TABULAR_DEFAULTS = {
    "CliffWalking": (500, 0.5, 1.0, 0.1),       # Sutton & Barto Example 6.6
    "FrozenLake": (10_000, 0.1, 0.99, 0.1),     # slippery: small steps, many episodes
    "FrozenLake8x8": (30_000, 0.1, 0.99, 0.1),
    "Taxi": (2_000, 0.5, 0.99, 0.1),
}


def _error(msg: str):
    from ..cli import CLIError
    return CLIError(msg)


def _write_json(path: Path, obj) -> None:
    from ..checkpoint import atomic_write_bytes
    from ..labs._common import to_jsonable
    atomic_write_bytes(path, (json.dumps(to_jsonable(obj), indent=2) + "\n").encode())


def _hidden(text: str) -> tuple:
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes like 256,256, got {text!r}")


def setup_rl_parser(p: argparse.ArgumentParser):
    """Declare `rl train` and `rl eval` on the parser `p` of the `rl` command; returns the runner."""
    sub = p.add_subparsers(dest="rl_command", metavar="{train,eval}", required=True)
    t = sub.add_parser("train", help="train an agent and write a run folder",
                       description="train an agent on a gymnasium environment and write a run folder "
                                   "(config.json, metrics.json, returns.png, the saved policy)")
    t.add_argument("--algo", required=True, choices=ALGOS, help="the method")
    t.add_argument("--env", required=True, help="gymnasium id, e.g. CartPole-v1, CliffWalking, FrozenLake-v1, "
                                                "FrozenLake8x8-v1, Taxi (no version: the newest)")
    t.add_argument("--episodes", type=int, default=None,
                   help="training episodes (default: per env for tabular methods, e.g. CliffWalking 500; "
                        "reinforce 4000; dqn: no limit, see --steps)")
    t.add_argument("--steps", type=int, default=150_000, help="dqn: environment-step budget (default: %(default)s)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    t.add_argument("--out", type=Path, default=None, help="run folder (default: runs/rl-<algo>-<env>-<time>)")
    t.add_argument("--gamma", type=float, default=None, help="discount (default: per env / method)")
    t.add_argument("--alpha", type=float, default=None, help="tabular step size (default: per env)")
    t.add_argument("--epsilon", type=float, default=None, help="tabular exploration rate (default: per env)")
    t.add_argument("--lam", type=float, default=0.9, help="sarsa-lambda trace decay (default: %(default)s)")
    t.add_argument("--trace", choices=("accumulating", "replacing"), default="accumulating",
                   help="sarsa-lambda trace (default: %(default)s)")
    t.add_argument("--first-visit", action=argparse.BooleanOptionalAction, default=True,
                   help="mc: first-visit (default) or --no-first-visit for every-visit")
    t.add_argument("--lr", type=float, default=None, help="dqn/reinforce learning rate (default: the config's)")
    t.add_argument("--hidden", type=_hidden, default=None, help="dqn/reinforce hidden sizes, e.g. 256,256")
    t.add_argument("--time-limit", type=float, default=15.0, help="dqn/reinforce wall-clock budget in minutes "
                                                                  "(default: %(default)s)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    e = sub.add_parser("eval", help="evaluate a run folder's saved policy (greedy)",
                       description="play episodes with a run folder's saved greedy policy; prints the mean return")
    e.add_argument("run_dir", type=Path, help="a folder written by `scratchgrad rl train`")
    e.add_argument("--episodes", type=int, default=100, help="evaluation episodes (default: %(default)s)")
    e.add_argument("--seed", type=int, default=10_000, help="seed of the first episode (default: %(default)s)")
    return run_rl


def add_rl_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `rl` command to an argparse subparsers object (sets `run` as the default handler)."""
    p = subparsers.add_parser("rl", help=RL_HELP, description=RL_HELP)
    p.set_defaults(run=setup_rl_parser(p))
    return p


def run_rl(args):
    return rl_train(args) if args.rl_command == "train" else rl_eval(args)


# ---- train ------------------------------------------------------------------------------------
def _tabular_defaults(env_id: str, args) -> dict:
    family = env_id.split("/")[-1].split("-")[0]
    episodes, alpha, gamma, epsilon = TABULAR_DEFAULTS.get(family, (1_000, 0.1, 0.99, 0.1))
    pick = lambda given, default: default if given is None else given  # noqa: E731
    return {"episodes": pick(args.episodes, episodes), "alpha": pick(args.alpha, alpha),
            "gamma": pick(args.gamma, gamma), "epsilon": pick(args.epsilon, epsilon)}


def _train_tabular(args, env_id, env, out, progress):
    from . import dp, tabular
    from .mdp import from_env
    from ..checkpoint import save
    hp = _tabular_defaults(env_id, args)
    if args.algo in PLANNING:
        solve = dp.value_iteration if args.algo == "value-iteration" else dp.policy_iteration
        mdp = from_env(env)
        pi, V, info = solve(mdp, hp["gamma"])
        Q = dp.q_values(mdp, V, hp["gamma"])
        tensors = {"Q": Q, "V": V, "policy": pi}
        curve, stats = {"max |V_new - V| (value iteration)" if args.algo == "value-iteration"
                        else "evaluation sweeps per iteration": info.deltas}, {}
        extra = {"iterations": info.iterations, "sweeps": info.sweeps}
        hp = {"gamma": hp["gamma"]}
    else:
        kw = dict(episodes=hp["episodes"], gamma=hp["gamma"], epsilon=hp["epsilon"], seed=args.seed,
                  progress=progress)
        if args.algo == "mc":
            Q, stats = tabular.mc_control(env, first_visit=args.first_visit, **kw)
            hp.pop("alpha")
            hp["first_visit"] = args.first_visit
        else:
            Q, stats = tabular.td_control(env, args.algo, alpha=hp["alpha"], lam=args.lam, trace=args.trace, **kw)
            if args.algo == "sarsa-lambda":
                hp.update(lam=args.lam, trace=args.trace)
        tensors = {"Q": Q}
        curve = {args.algo: stats["returns"][0]}
        extra = {"online_return_last_100": float(stats["returns"][0, -100:].mean())}
    save(out / "q_table.safetensors", tensors, {"algo": args.algo, "env": env_id})
    return Q, hp, curve, extra


def _train_deep(args, env_id, progress):
    from .dqn import DQNConfig, train_dqn
    from .reinforce import ReinforceConfig, train_reinforce
    from ..checkpoint import save
    overrides = {k: v for k, v in (("lr", args.lr), ("hidden", args.hidden), ("gamma", args.gamma)) if v is not None}
    overrides["time_limit_s"] = 60.0 * args.time_limit
    if args.algo == "reinforce":
        config = ReinforceConfig(**overrides, **({"max_episodes": args.episodes} if args.episodes else {}))
        agent, log = train_reinforce(env_id, config, seed=args.seed, progress=progress)
        state = agent.state_dict()
    else:
        config = DQNConfig(**overrides, double=args.algo == "double-dqn", max_steps=args.steps,
                           max_episodes=args.episodes)
        agent, log = train_dqn(env_id, config, seed=args.seed, progress=progress)
        state = agent.q.state_dict()
    save(Path(args.out) / "model.safetensors", state, {"algo": args.algo, "env": env_id})
    from dataclasses import asdict
    return asdict(config), log


def rl_train(args) -> dict:
    """Train `args.algo` on `args.env`; write the run folder; return the metrics."""
    import numpy as np
    from .common import evaluate, is_tabular, make_env, plot_returns, resolve_env_id, table_policy
    try:
        env_id = resolve_env_id(args.env)
    except ValueError as e:
        raise _error(str(e)) from None
    env = make_env(env_id)
    tab = is_tabular(env)
    if args.algo in TABULAR + PLANNING and not tab:
        raise _error(f"--algo {args.algo} needs a table of states; {env_id} has observations "
                     f"{env.observation_space}: use --algo dqn, double-dqn or reinforce")
    if args.algo in PLANNING and not hasattr(env.unwrapped, "P"):
        raise _error(f"--algo {args.algo} needs the transition model, which {env_id} does not publish")
    if args.algo in DEEP and tab:
        raise _error(f"--algo {args.algo} expects vector observations; {env_id} has {env.observation_space}: "
                     f"use a tabular method (q-learning, sarsa, ...)")
    out = Path(args.out or Path("runs") / f"rl-{args.algo}-{env_id.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    args.out = out
    progress = not args.no_progress and sys.stderr.isatty()  # as `scratchgrad train`: no bar in logs
    print(f"training {args.algo} on {env_id} (seed {args.seed}) -> {out}", flush=True)
    start = time.perf_counter()
    config = {"algo": args.algo, "env": env_id, "seed": args.seed}
    if args.algo in DEEP:
        hp, log = _train_deep(args, env_id, progress)
        curve = {args.algo: log.episode_returns}
        final = log.final_eval
        extra = {"solved": log.solved, "stop_reason": log.stop_reason, "steps": log.steps, "updates": log.updates,
                 "episodes": len(log.episode_returns), "best_eval_mean": log.best_eval_mean, "evals": log.evals}
    else:
        Q, hp, curve, extra = _train_tabular(args, env_id, env, out, progress)
        final = evaluate(table_policy(np.asarray(Q).argmax(axis=1)), env_id, 100)
    env.close()
    config["hyperparameters"] = hp
    _write_json(out / "config.json", config)
    xlabel = "sweep" if args.algo in PLANNING else "episode"
    plot_returns(curve, out / "returns.png", title=f"{args.algo} on {env_id}", xlabel=xlabel,
                 smooth=1 if args.algo in PLANNING else 20)
    metrics = {"eval_mean_return": final["mean"], "eval_std_return": final["std"], "eval_episodes": final["episodes"],
               "wall_time_s": round(time.perf_counter() - start, 3), **extra,
               "episode_returns": [float(r) for r in next(iter(curve.values()))]}
    _write_json(out / "metrics.json", metrics)
    print(f"greedy policy: mean return {final['mean']:.3f} +- {final['std']:.3f} over {final['episodes']} episodes "
          f"({metrics['wall_time_s']:.1f} s)  wrote {out}", flush=True)
    return metrics


# ---- eval -------------------------------------------------------------------------------------
def load_policy(run_dir):
    """(greedy policy for run_episodes, config) of a run folder."""
    import numpy as np
    from ..checkpoint import load
    from .common import make_env, mlp, table_policy
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise _error(f"{path} not found: is {run_dir} a folder written by `scratchgrad rl train`?")
    config = json.loads(path.read_text())
    algo, hp = config["algo"], config["hyperparameters"]
    if algo in TABULAR + PLANNING:
        tensors, _ = load(run_dir / "q_table.safetensors")
        return table_policy(tensors["Q"].argmax(axis=1)), config
    weights, _ = load(run_dir / "model.safetensors")
    env = make_env(config["env"])
    obs_dim, n_actions = int(np.prod(env.observation_space.shape)), int(env.action_space.n)
    env.close()
    if algo == "reinforce":
        from .reinforce import ReinforceAgent, ReinforceConfig
        agent = ReinforceAgent(obs_dim, n_actions, ReinforceConfig(**hp))
        agent.load_state_dict(weights)
        return agent.policy, config
    from .dqn import DQNAgent, DQNConfig
    agent = DQNAgent(obs_dim, n_actions, DQNConfig(**hp))
    agent.q.load_state_dict(weights)
    return agent.policy, config


def rl_eval(args) -> dict:
    """Play `args.episodes` greedy episodes with a run folder's policy; print and return the result."""
    from .common import evaluate
    policy, config = load_policy(args.run_dir)
    result = evaluate(policy, config["env"], args.episodes, seed=args.seed)
    _write_json(Path(args.run_dir) / "eval.json", result)
    print(f"{config['algo']} on {config['env']}: mean return {result['mean']:.3f} +- {result['std']:.3f} "
          f"(min {result['min']:.1f}, max {result['max']:.1f}) over {args.episodes} episodes")
    return result
