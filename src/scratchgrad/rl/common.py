"""Shared pieces of the RL package: environments by id, small networks, episodes run in lock-step.

    env = make_env("CliffWalking")             # the newest registered version: CliffWalking-v1
    returns = evaluate(lambda obs: greedy(obs), "CartPole-v1", episodes=100, seed=10_000)

gymnasium is imported inside the functions, so `import scratchgrad.rl` works without it.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np


def resolve_env_id(env_id: str) -> str:
    """'CliffWalking' -> 'CliffWalking-v1': an id without a version gets the newest registered one."""
    import gymnasium as gym
    from gymnasium.envs.registration import find_highest_version, parse_env_id
    if env_id in gym.registry:
        return env_id
    ns, name, version = parse_env_id(env_id)
    newest = find_highest_version(ns, name)
    if newest is None:
        known = ", ".join(k for k in ("CartPole-v1", "FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1",
                                      "Taxi-v4") if k in gym.registry)
        raise ValueError(f"unknown environment {env_id!r}; for example: {known}")
    if version is not None and version != newest:
        raise ValueError(f"{env_id!r} is not available in gymnasium {gym.__version__}; use "
                         f"'{name}-v{newest}' (or just '{name}')")
    return f"{name}-v{newest}" if ns is None else f"{ns}/{name}-v{newest}"


def make_env(env_id: str, **kwargs):
    """gymnasium.make with the id resolved by `resolve_env_id`."""
    import gymnasium as gym
    return gym.make(resolve_env_id(env_id), **kwargs)


def is_tabular(env) -> bool:
    """True for a Discrete observation space (a table of states)."""
    from gymnasium.spaces import Discrete
    return isinstance(env.observation_space, Discrete)


def mlp(sizes, activation=None):
    """Linear -> ReLU -> ... -> Linear for sizes [in, hidden..., out] (PyTorch's default init)."""
    from .. import nn
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU() if activation is None else activation())
    return nn.Sequential(*layers)


def run_episodes(policy, env_id: str, episodes: int, seed: int = 0, record: bool = False, env_kwargs=None,
                 max_parallel: int = 100):
    """Run `episodes` episodes on up to `max_parallel` environments stepped in lock-step.

    policy(obs (n, ...) ndarray, t (n,) step indices) -> actions (n,): one call per time step for all
    running environments, so a network policy costs one forward pass per step, not per episode.
    Episode i is reset with seed `seed + i` (reproducible, whatever max_parallel is); an environment
    whose episode ends starts the next one. Returns the returns (episodes,) and, if `record`, the
    trajectories: a list of dicts with obs (T, ...), actions (T,), rewards (T,).
    """
    envs = [make_env(env_id, **(env_kwargs or {})) for _ in range(min(max_parallel, episodes))]
    returns, trajectories = np.zeros(episodes), [None] * episodes
    episode = [-1] * len(envs)            # the episode each environment plays (-1: none)
    obs, t, logs = [None] * len(envs), np.zeros(len(envs), dtype=np.int64), [None] * len(envs)
    started = 0

    def start(k):
        nonlocal started
        episode[k], t[k] = started, 0
        obs[k] = envs[k].reset(seed=seed + started)[0]
        logs[k] = {"obs": [], "actions": [], "rewards": []}
        started += 1

    for k in range(len(envs)):
        start(k)
    while any(i >= 0 for i in episode):
        live = [k for k, i in enumerate(episode) if i >= 0]
        actions = np.asarray(policy(np.stack([np.asarray(obs[k]) for k in live]), t[live]))
        for k, a in zip(live, actions):
            o2, r, terminated, truncated, _ = envs[k].step(a.item())
            returns[episode[k]] += r
            if record:
                logs[k]["obs"].append(obs[k])
                logs[k]["actions"].append(a.item())
                logs[k]["rewards"].append(float(r))
            obs[k], t[k] = o2, t[k] + 1
            if terminated or truncated:
                if record:
                    trajectories[episode[k]] = {key: np.asarray(v) for key, v in logs[k].items()}
                if started < episodes:
                    start(k)
                else:
                    episode[k] = -1
    for env in envs:
        env.close()
    return (returns, trajectories) if record else returns


def evaluate(policy, env_id: str, episodes: int = 100, seed: int = 10_000, **kw) -> dict:
    """Mean, std, min and max return of `policy` over `episodes` seeded episodes."""
    r = run_episodes(policy, env_id, episodes, seed, **kw)
    return {"mean": float(r.mean()), "std": float(r.std()), "min": float(r.min()), "max": float(r.max()),
            "episodes": episodes, "returns": r.tolist()}


def table_policy(actions: np.ndarray):
    """A policy for run_episodes from a table: actions (S,) or time-indexed actions (T, S)."""
    actions = np.asarray(actions)
    if actions.ndim == 1:
        return lambda obs, t: actions[obs]
    return lambda obs, t: actions[np.minimum(t, len(actions) - 1), obs]


def moving_average(x, k: int = 20) -> np.ndarray:
    """Mean of the last k values at every point (shorter windows at the start), same length as x."""
    x = np.asarray(x, dtype=np.float64)
    c = np.cumsum(np.insert(x, 0, 0.0))
    i = np.arange(1, len(x) + 1)
    return (c[i] - c[np.maximum(i - k, 0)]) / np.minimum(i, k)


def plot_returns(curves: dict, path, title: str = "", xlabel: str = "episode", smooth: int = 20):
    """Return curves {label: returns per episode} as a PNG (raw faint, moving average bold)."""
    from ..plot import figure, savefig
    fig, ax = figure(1, 1, figsize=(6.4, 4.0))
    for label, r in curves.items():
        r = np.asarray(r, dtype=np.float64)
        line, = ax.plot(r, alpha=0.25, lw=0.8)
        ax.plot(moving_average(r, smooth), color=line.get_color(), lw=2, label=f"{label} ({smooth}-ep. mean)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return savefig(fig, path)


# ---- training runs: what happened, and the best weights seen --------------------------------
@dataclass
class TrainLog:
    """The record of a deep-RL training run (JSON-able through to_dict)."""
    episode_returns: list = field(default_factory=list)
    episode_steps: list = field(default_factory=list)    # env step at which each episode ended
    evals: list = field(default_factory=list)            # {"step", "mean", "std", "wall_time_s"[, "confirm_mean"]}
    final_eval: dict | None = None
    best_eval_mean: float = -np.inf
    steps: int = 0
    updates: int = 0
    solved: bool = False
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0                              # process CPU time (the machine may be shared)
    stop_reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class BestWeights:
    """Greedy evaluations during training: keep the weights with the best score, say when solved.

    check() plays `episodes` episodes (fresh seeds each time); a mean >= solved_return is confirmed
    on `confirm_episodes` episodes, and the score is the confirmation mean. final() evaluates the kept
    weights on `confirm_episodes` episodes with seeds eval_seed, eval_seed + 1, ... (used by no check).
    state_dict/load_state_dict: the model's (or agent's) own methods.
    """

    def __init__(self, state_dict, load_state_dict, env_id: str, log: TrainLog, episodes: int = 20,
                 confirm_episodes: int = 100, solved_return: float | None = None, eval_seed: int = 10_000):
        self.state_dict, self.load_state_dict = state_dict, load_state_dict
        self.env_id, self.log, self.episodes, self.confirm_episodes = env_id, log, episodes, confirm_episodes
        self.solved_return, self.eval_seed = solved_return, eval_seed
        self.best = copy.deepcopy(dict(state_dict()))
        self.start = time.perf_counter()

    def _solved(self, score: float) -> bool:
        return self.solved_return is not None and score >= self.solved_return

    def check(self, policy, step: int) -> bool:
        """Evaluate now; True when solved (then the current weights are the ones kept)."""
        first_seed = self.eval_seed + 1_000_000 + len(self.log.evals) * self.episodes   # new seeds every check
        result = evaluate(policy, self.env_id, self.episodes, seed=first_seed)
        entry = {"step": step, "mean": result["mean"], "std": result["std"]}
        score = result["mean"]
        if self._solved(score):
            score = evaluate(policy, self.env_id, self.confirm_episodes, seed=self.eval_seed + 500_000)["mean"]
            entry["confirm_mean"] = score
        entry["wall_time_s"] = time.perf_counter() - self.start
        self.log.evals.append(entry)
        if score > self.log.best_eval_mean:
            self.log.best_eval_mean = score
            self.best = copy.deepcopy(dict(self.state_dict()))
        self.log.solved = self._solved(score)
        return self.log.solved

    def final(self, policy) -> dict:
        """Load the best weights and evaluate them; stores log.final_eval."""
        self.load_state_dict(self.best)
        self.log.final_eval = evaluate(policy, self.env_id, self.confirm_episodes, seed=self.eval_seed)
        return self.log.final_eval
