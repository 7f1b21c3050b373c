"""Finite MDPs (S, A, P, R) as NumPy arrays, read from gymnasium's toy-text environments.

    mdp = from_env(gym.make("FrozenLake-v1"))     # P: (S, A, S'), R: (S, A), terminal: (S,)
    V = dp.value_iteration(mdp, gamma=0.99)[1]

An environment with a known model (FrozenLake, CliffWalking, Taxi) lists it in `env.unwrapped.P`:
`P[s][a] = [(prob, next_state, reward, terminated), ...]`.  `from_env` turns that table into

    P[s, a, s']       probability of landing in s' after action a in state s   (rows sum to 1)
    R[s, a]           expected immediate reward  sum_s' P[s, a, s'] r(s, a, s')
    R_next[s, a, s']  the reward given that the move lands in s' (what a simulator hands out)
    terminal[s]       states that end the episode: absorbing, worth 0 (V(terminal) = 0)

Terminal states are made absorbing with reward 0, so every Bellman equation can be written without
special cases:  V(s) = max_a R[s, a] + gamma * P[s, a] @ V.

`VectorTabularEnv` samples from such a model for many independent runs at once (the labs average
50-100 runs, as the book's figures do); `GymTabularEnv` gives a real gymnasium environment the same
batch-of-runs interface (one run), so each tabular algorithm is written once.

Tabular arrays are float64: they are tiny, and the dynamic-programming values are exact answers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TabularMDP:
    """A finite MDP; see the module docstring for the meaning and shape of each array."""
    P: np.ndarray          # (S, A, S') float64
    R: np.ndarray          # (S, A) float64
    R_next: np.ndarray     # (S, A, S') float64
    terminal: np.ndarray   # (S,) bool
    start: np.ndarray      # (S,) float64, the start-state distribution
    name: str = "mdp"

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]


def _absorb(P, R, R_next, terminal):
    """Terminal states loop onto themselves with reward 0 (in place)."""
    P[terminal] = 0.0
    P[terminal, :, terminal.nonzero()[0]] = 1.0  # broadcast: each terminal s gets P[s, :, s] = 1
    R[terminal] = 0.0
    R_next[terminal] = 0.0


def from_table(table: dict, n_states: int, n_actions: int, start=None, name: str = "mdp") -> TabularMDP:
    """Build a TabularMDP from gymnasium's `P[s][a] = [(prob, s', reward, terminated), ...]` table.

    A state entered by a transition with `terminated=True` is terminal (a hole, the goal, ...).
    Repeated (s, a, s') entries (FrozenLake lists some twice) add up.
    """
    P = np.zeros((n_states, n_actions, n_states))
    reward_mass = np.zeros((n_states, n_actions, n_states))   # sum of p * r per (s, a, s')
    terminal = np.zeros(n_states, dtype=bool)
    for s, actions in table.items():                            # a one-off read of a small dict
        for a, outcomes in actions.items():
            for p, s2, r, done in outcomes:
                P[s, a, int(s2)] += p
                reward_mass[s, a, int(s2)] += p * r
                terminal[int(s2)] |= bool(done)
    R = reward_mass.sum(axis=2)
    R_next = np.divide(reward_mass, P, out=np.zeros_like(P), where=P > 0)
    _absorb(P, R, R_next, terminal)
    start = np.full(n_states, 1.0 / n_states) if start is None else np.asarray(start, dtype=np.float64)
    return TabularMDP(P, R, R_next, terminal, start, name)


def from_env(env) -> TabularMDP:
    """The model of a gymnasium toy-text env (FrozenLake, CliffWalking, Taxi) as a TabularMDP."""
    raw = env.unwrapped
    if not hasattr(raw, "P"):
        raise ValueError(f"{env} publishes no transition model (env.unwrapped.P); use a model-free method")
    start = getattr(raw, "initial_state_distrib", None)
    if start is None:  # CliffWalking keeps a start index instead of a distribution
        start = np.zeros(raw.observation_space.n)
        start[raw.start_state_index] = 1.0
    name = env.spec.id if env.spec is not None else type(raw).__name__
    return from_table(raw.P, int(raw.observation_space.n), int(raw.action_space.n), start, name)


# ---- small MDPs with known answers -----------------------------------------------------------
def two_state_mdp(p: float = 0.5) -> TabularMDP:
    """Two states, two actions ("stay" = 0, "go" = 1); no terminal state.

    state 0: stay -> 0 with reward 1;  go -> 1 with probability p (else stays in 0), reward 0
    state 1: stay -> 1 with reward 2;  go -> 0, reward 0

    Closed form (see `two_state_optimal`): staying in 1 is worth 2 / (1 - gamma), so the optimal policy
    goes to state 1 unless gamma is small.
    """
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0
    P[0, 1, 1], P[0, 1, 0] = p, 1.0 - p
    P[1, 0, 1] = 1.0
    P[1, 1, 0] = 1.0
    R = np.array([[1.0, 0.0], [2.0, 0.0]])
    R_next = np.repeat(R[:, :, None], 2, axis=2) * (P > 0)
    return TabularMDP(P, R, R_next, np.zeros(2, dtype=bool), np.array([1.0, 0.0]), f"two-state(p={p})")


def two_state_optimal(gamma: float, p: float = 0.5):
    """Optimal V*, Q* (2, 2) and greedy policy of `two_state_mdp(p)`, by hand.

    V*(1) = 2 / (1 - gamma)   (staying beats leaving: 0 + gamma V*(0) <= gamma V*(1) < V*(1))
    V*(0) = max( 1 / (1 - gamma),                               stay forever
                 gamma p V*(1) / (1 - gamma (1 - p)) )          keep trying "go" until it works
    """
    v1 = 2.0 / (1.0 - gamma)
    v0 = max(1.0 / (1.0 - gamma), gamma * p * v1 / (1.0 - gamma * (1.0 - p)))
    V = np.array([v0, v1])
    Q = np.array([[1.0 + gamma * v0, gamma * (p * v1 + (1 - p) * v0)],
                  [2.0 + gamma * v1, gamma * v0]])
    return V, Q, Q.argmax(axis=1)


def random_walk_mdp(n: int = 5) -> TabularMDP:
    """Sutton & Barto Example 6.2: states 1..n in a row between two terminal ends 0 and n+1.

    One action (or two, both random): step left or right with probability 1/2; reward +1 only on the
    right exit. Start in the middle. True values under gamma = 1: V(i) = i / (n + 1).
    """
    S = n + 2
    P = np.zeros((S, 1, S))
    i = np.arange(1, n + 1)
    P[i, 0, i - 1] = 0.5
    P[i, 0, i + 1] = 0.5
    R_next = np.zeros((S, 1, S))
    R_next[n, 0, n + 1] = 1.0
    R = (P * R_next).sum(axis=2)
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, n + 1]] = True
    _absorb(P, R, R_next, terminal)
    start = np.zeros(S)
    start[(n + 1) // 2] = 1.0
    return TabularMDP(P, R, R_next, terminal, start, f"random-walk-{n}")


# ---- running many episodes: a batch of independent runs --------------------------------------
class VectorTabularEnv:
    """`num_envs` independent copies of an MDP stepped in lock-step (runs, not a bigger problem).

        env = VectorTabularEnv(mdp, num_envs=50, seed=0)
        s = env.reset()                          # (R,) int64 states
        s2, r, terminated, truncated = env.step(a)  # a: (R,) int64
        s = np.where(done, env.reset_where(done), s2)

    Next states are drawn by inverse CDF (one uniform number per run) over the K possible next states
    of (s, a) only: K = 3 in slippery FrozenLake, 1 in CliffWalking and Taxi, not all S.
    """

    def __init__(self, mdp: TabularMDP, num_envs: int = 1, seed=None, max_episode_steps: int | None = None):
        self.mdp, self.num_envs, self.max_episode_steps = mdp, num_envs, max_episode_steps
        self.n_states, self.n_actions = mdp.n_states, mdp.n_actions
        K = int((mdp.P > 0).sum(axis=2).max())
        self._next = np.argsort(-mdp.P, axis=2, kind="stable")[:, :, :K]   # (S, A, K): the possible s'
        self._cdf = np.cumsum(np.take_along_axis(mdp.P, self._next, axis=2), axis=2)
        self._start_cdf = np.cumsum(mdp.start)
        self.rng = np.random.default_rng(seed)
        self.state = np.zeros(num_envs, dtype=np.int64)
        self.t = np.zeros(num_envs, dtype=np.int64)

    def _draw(self, cdf: np.ndarray) -> np.ndarray:
        u = self.rng.random(len(cdf))[:, None]
        return np.minimum((cdf < u * cdf[:, -1:]).sum(axis=1), cdf.shape[1] - 1)

    def reset(self, seed=None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        return self.reset_where(np.ones(self.num_envs, dtype=bool))

    def reset_where(self, mask: np.ndarray) -> np.ndarray:
        """Start new episodes in the runs where `mask` is True; returns all current states (R,)."""
        k = int(mask.sum())
        if k:
            self.state[mask] = self._draw(np.broadcast_to(self._start_cdf, (k, self.n_states)))
            self.t[mask] = 0
        return self.state.copy()

    def step(self, actions: np.ndarray):
        s, a = self.state, np.asarray(actions, dtype=np.int64)
        s2 = self._next[s, a, self._draw(self._cdf[s, a])]
        r = self.mdp.R_next[s, a, s2]
        self.t += 1
        terminated = self.mdp.terminal[s2]
        truncated = ((self.t >= self.max_episode_steps) & ~terminated if self.max_episode_steps
                     else np.zeros_like(terminated))
        self.state = s2
        return s2.copy(), r, terminated, truncated


def simulate_returns(mdp: TabularMDP, policy, episodes: int, horizon: int, seed=None) -> np.ndarray:
    """Returns of `episodes` episodes simulated from the model at once, each cut after `horizon` steps.

    policy(states (n,), t (n,)) -> actions (n,). A Monte Carlo check of DP numbers that is fast
    (one NumPy step per time step for all episodes); compare `common.run_episodes` for the real env.
    """
    env = VectorTabularEnv(mdp, episodes, seed, max_episode_steps=horizon)
    s, total = env.reset(), np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        s2, r, terminated, truncated = env.step(policy(s, env.t))
        total += r * running
        running &= ~(terminated | truncated)
        s = s2
    return total


class GymTabularEnv:
    """One gymnasium env with a Discrete observation space, seen as a batch of one run (the same
    interface as VectorTabularEnv, so the tabular algorithms run on the real environment)."""

    num_envs = 1

    def __init__(self, env, seed=None):
        self.env, self._seed = env, seed
        self.n_states, self.n_actions = int(env.observation_space.n), int(env.action_space.n)
        self.state = np.zeros(1, dtype=np.int64)
        self.env.action_space.seed(seed)

    def reset(self, seed=None) -> np.ndarray:
        self._seed = seed if seed is not None else self._seed
        return self.reset_where(np.ones(1, dtype=bool))

    def reset_where(self, mask: np.ndarray) -> np.ndarray:
        if mask[0]:
            obs, _ = self.env.reset(seed=self._seed)
            self._seed = None  # seed the first reset only: later episodes continue the env's stream
            self.state[0] = obs
        return self.state.copy()

    def step(self, actions: np.ndarray):
        obs, r, terminated, truncated, _ = self.env.step(int(actions[0]))
        self.state[0] = obs
        return (self.state.copy(), np.array([float(r)]), np.array([bool(terminated)]),
                np.array([bool(truncated)]))


def as_runs(env, num_envs: int = 1, seed=None):
    """A batch-of-runs env: a TabularMDP gives `num_envs` simulated runs, a gymnasium env one real run."""
    if isinstance(env, (VectorTabularEnv, GymTabularEnv)):
        return env
    if isinstance(env, TabularMDP):
        return VectorTabularEnv(env, num_envs, seed)
    return GymTabularEnv(env, seed)
