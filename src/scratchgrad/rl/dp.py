"""Dynamic programming with a known model: policy evaluation, policy iteration, value iteration.

Every sweep updates all states at once (a "synchronous" backup), as matrix products:

    Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s']        q_values:   R + gamma * P @ V
    V_pi[s] = sum_a pi[s, a] Q[s, a]                            (policy evaluation)
    V*[s]   = max_a Q[s, a]                                     (value iteration)

Policies are (S, A) arrays of action probabilities; a deterministic policy is one-hot rows
(`one_hot_policy`). Policy iteration alternates evaluation and greedy improvement until the
policy stops changing; value iteration folds the max into every sweep.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .mdp import TabularMDP


@dataclass
class DPInfo:
    """What a solver did: outer iterations, Bellman sweeps over all states, wall time, and the
    largest value change of each sweep (value iteration) or the evaluation sweeps per iteration."""
    iterations: int = 0
    sweeps: int = 0
    wall_time_s: float = 0.0
    deltas: list = field(default_factory=list)


def q_values(mdp: TabularMDP, V: np.ndarray, gamma: float) -> np.ndarray:
    """One-step lookahead Q (S, A) from state values V (S,)."""
    return mdp.R + gamma * (mdp.P @ V)


def one_hot_policy(actions: np.ndarray, n_actions: int) -> np.ndarray:
    """(S,) action indices -> (S, A) deterministic policy."""
    return np.eye(n_actions)[np.asarray(actions)]


def greedy_policy(Q: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Deterministic greedy policy (S,) from Q (S, A): the first action within `tol` of the best
    (so ties are broken the same way every time and policy iteration cannot flip between equals)."""
    return (Q >= Q.max(axis=1, keepdims=True) - tol).argmax(axis=1)


def policy_matrices(mdp: TabularMDP, policy: np.ndarray):
    """The Markov chain a policy induces: P_pi (S, S') and R_pi (S,)."""
    return np.einsum("sa,sat->st", policy, mdp.P, optimize=True), (policy * mdp.R).sum(axis=1)


def policy_evaluation(mdp: TabularMDP, policy: np.ndarray, gamma: float, theta: float = 1e-10,
                      max_sweeps: int = 1_000_000, V=None) -> tuple[np.ndarray, int]:
    """Iterative policy evaluation: V <- R_pi + gamma P_pi V until the largest change < theta.

    Returns (V (S,), sweeps). `V` warm-starts the iteration (policy iteration passes the last one).
    """
    P_pi, R_pi = policy_matrices(mdp, policy)
    V = np.zeros(mdp.n_states) if V is None else V.copy()
    for sweep in range(1, max_sweeps + 1):
        V_new = R_pi + gamma * (P_pi @ V)
        delta = np.abs(V_new - V).max()
        V = V_new
        if delta < theta:
            break
    return V, sweep


def policy_evaluation_exact(mdp: TabularMDP, policy: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """Solve the Bellman equation (I - gamma P_pi) V = R_pi directly, with V(terminal) = 0.

    gamma = 1 is allowed when the policy ends every episode with probability 1; in FrozenLake, where
    the only reward is 1 for reaching the goal, V(s) is then exactly the success probability from s.
    """
    P_pi, R_pi = policy_matrices(mdp, policy)
    P_pi[mdp.terminal] = 0.0  # terminal rows: V = 0, no self-loop (makes the system non-singular)
    return np.linalg.solve(np.eye(mdp.n_states) - gamma * P_pi, R_pi)


def policy_evaluation_horizon(mdp: TabularMDP, policy: np.ndarray, horizon: int, gamma: float = 1.0) -> np.ndarray:
    """Expected return within `horizon` steps (a time limit, as gymnasium's TimeLimit wrapper), (S,)."""
    P_pi, R_pi = policy_matrices(mdp, policy)
    V = np.zeros(mdp.n_states)
    for _ in range(horizon):
        V = R_pi + gamma * (P_pi @ V)
    return V


def policy_iteration(mdp: TabularMDP, gamma: float, theta: float = 1e-10, max_iterations: int = 1000):
    """Policy iteration: evaluate pi, make it greedy w.r.t. its own Q, repeat until it is stable.

    Returns (policy (S,) action indices, V (S,), DPInfo). Evaluation sweeps are counted in `sweeps`.
    """
    import time
    start = time.perf_counter()
    info = DPInfo()
    actions = np.zeros(mdp.n_states, dtype=np.int64)
    V = None
    for info.iterations in range(1, max_iterations + 1):
        V, sweeps = policy_evaluation(mdp, one_hot_policy(actions, mdp.n_actions), gamma, theta, V=V)
        info.sweeps += sweeps
        info.deltas.append(sweeps)
        Q = q_values(mdp, V, gamma)
        new = greedy_policy(Q)
        # keep the current action when it is as good as the best: the loop stops on ties
        keep = Q[np.arange(mdp.n_states), actions] >= Q.max(axis=1) - 1e-9
        new = np.where(keep, actions, new)
        if np.array_equal(new, actions):
            break
        actions = new
    info.wall_time_s = time.perf_counter() - start
    return actions, V, info


def value_iteration(mdp: TabularMDP, gamma: float, theta: float = 1e-10, max_sweeps: int = 1_000_000):
    """Value iteration: V <- max_a (R + gamma P V) until the largest change < theta.

    Returns (greedy policy (S,), V (S,), DPInfo); `iterations` = `sweeps` = Bellman optimality sweeps.
    """
    import time
    start = time.perf_counter()
    info = DPInfo()
    V = np.zeros(mdp.n_states)
    for info.sweeps in range(1, max_sweeps + 1):
        V_new = q_values(mdp, V, gamma).max(axis=1)
        delta = np.abs(V_new - V).max()
        V = V_new
        info.deltas.append(float(delta))
        if delta < theta:
            break
    info.iterations = info.sweeps
    info.wall_time_s = time.perf_counter() - start
    return greedy_policy(q_values(mdp, V, gamma)), V, info


def finite_horizon_value_iteration(mdp: TabularMDP, horizon: int, gamma: float = 1.0):
    """Backward induction for an episode cut after `horizon` steps (gymnasium's TimeLimit).

    V_0 = 0;  V_k = max_a (R + gamma P V_{k-1}) is the best return with k steps left. The optimal
    policy depends on the time left: actions[t] (S,) is optimal at step t (horizon - t steps left).
    Returns (actions (horizon, S), V_horizon (S,)): V_horizon[s] is the best achievable expected
    return from s within the limit, e.g. FrozenLake's best success probability.
    """
    V = np.zeros(mdp.n_states)
    actions = np.zeros((horizon, mdp.n_states), dtype=np.int64)
    for k in range(1, horizon + 1):
        Q = q_values(mdp, V, gamma)
        actions[horizon - k] = greedy_policy(Q)
        V = Q.max(axis=1)
    return actions, V
