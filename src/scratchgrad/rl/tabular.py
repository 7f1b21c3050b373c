"""Model-free tabular methods: Monte Carlo control, TD(0), Q-learning, SARSA, Expected SARSA, SARSA(lambda).

    Q, stats = q_learning(gym.make("CliffWalking-v1"), episodes=500, alpha=0.5, epsilon=0.1, seed=0)
    Q, stats = sarsa(mdp, episodes=500, runs=50)     # 50 independent runs at once on a known model

All of them learn from experience only (s, a, r, s'), never from P. They differ in the *target*
the estimate moves toward:

    Monte Carlo       Q(s,a) <- average of the returns G_t that followed (s, a)    (whole episode)
    TD(0)             V(s)   <- V(s)   + alpha [r + gamma V(s')               - V(s)]
    SARSA             Q(s,a) <- Q(s,a) + alpha [r + gamma Q(s', a')           - Q(s,a)]   a' ~ policy
    Q-learning        Q(s,a) <- Q(s,a) + alpha [r + gamma max_a' Q(s', a')    - Q(s,a)]
    Expected SARSA    Q(s,a) <- Q(s,a) + alpha [r + gamma sum_a' pi(a'|s') Q(s', a') - Q(s,a)]
    SARSA(lambda)     Q      <- Q      + alpha delta E,  E: eligibility of every (s, a) seen lately

(with gamma * Q(s', .) dropped when s' is terminal). Monte Carlo waits for the end of the episode;
TD methods update after every step from their own current estimate (bootstrapping).

`env` is a gymnasium env with Discrete observations (one run in the real environment) or a
`TabularMDP` (`runs` independent runs simulated in lock-step: the arrays carry a leading runs axis,
so averaging the book's 50-100 runs costs one NumPy step per time step). Every function returns
`(Q, stats)`: Q is (S, A) for one run or (runs, S, A), stats holds the online `returns` and
`lengths` of every episode, shape (runs, episodes). Actions are epsilon-greedy with ties broken at
random (a zero-initialised table has nothing but ties).
"""
from __future__ import annotations

import numpy as np

from .mdp import as_runs

TD_METHODS = ("q-learning", "sarsa", "expected-sarsa", "sarsa-lambda")


# ---- the epsilon-greedy policy ---------------------------------------------------------------
def epsilon_greedy_probs(q: np.ndarray, epsilon: float) -> np.ndarray:
    """pi(a|s) of epsilon-greedy for action values q (..., A): epsilon/A everywhere, plus 1-epsilon
    shared by the greedy actions (equally among ties)."""
    best = q == q.max(axis=-1, keepdims=True)
    return epsilon / q.shape[-1] + (1.0 - epsilon) * best / best.sum(axis=-1, keepdims=True)


def epsilon_greedy(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """One action per row of q (R, A): uniform with probability epsilon, else a greedy one
    (uniform among ties). Returns (R,) int64."""
    best = q == q.max(axis=1, keepdims=True)
    greedy = (rng.random(q.shape) * best).argmax(axis=1)
    explore = rng.random(len(q)) < epsilon
    return np.where(explore, rng.integers(0, q.shape[1], len(q)), greedy)


def greedy_actions(Q: np.ndarray) -> np.ndarray:
    """The greedy (first best) action of every state: Q (..., S, A) -> (..., S)."""
    return Q.argmax(axis=-1)


# ---- TD targets: the one line that tells the methods apart -----------------------------------
def td_target(method: str, q_next: np.ndarray, a_next: np.ndarray, r: np.ndarray, terminated: np.ndarray,
              gamma: float, epsilon: float = 0.0) -> np.ndarray:
    """r + gamma * (value of s') with the value each method assumes. q_next: (R, A) = Q(s', .)."""
    if method == "q-learning":
        v_next = q_next.max(axis=1)
    elif method in ("sarsa", "sarsa-lambda"):
        v_next = q_next[np.arange(len(q_next)), a_next]
    elif method == "expected-sarsa":
        v_next = (epsilon_greedy_probs(q_next, epsilon) * q_next).sum(axis=1)
    else:
        raise ValueError(f"unknown TD method {method!r}; choose from {TD_METHODS}")
    return r + gamma * np.where(terminated, 0.0, v_next)


class _Episodes:
    """Bookkeeping of online returns and lengths per run; a run is finished after `episodes`."""

    def __init__(self, runs: int, episodes: int, progress: bool = False, desc: str = ""):
        from tqdm.auto import tqdm
        self.bar = tqdm(total=episodes, desc=desc, unit="ep", disable=not progress)
        self.episodes = episodes
        self.count = np.zeros(runs, dtype=np.int64)
        self.ret, self.len = np.zeros(runs), np.zeros(runs, dtype=np.int64)
        self.returns, self.lengths = np.zeros((runs, episodes)), np.zeros((runs, episodes), dtype=np.int64)

    @property
    def active(self) -> np.ndarray:
        return self.count < self.episodes

    def add(self, r: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Add a step's rewards; close the episodes that ended. Returns the runs that closed one."""
        active = self.active
        self.ret += r * active
        self.len += active
        closed = done & active
        i = closed.nonzero()[0]
        self.returns[i, self.count[i]] = self.ret[i]
        self.lengths[i, self.count[i]] = self.len[i]
        self.count[i] += 1
        self.ret[i], self.len[i] = 0.0, 0
        if len(i) and not self.bar.disable:
            self.bar.update(int(self.count.min()) - self.bar.n)
            self.bar.set_postfix(ret=f"{self.returns[i[0], self.count[i[0]] - 1]:.1f}")
        return closed

    def stats(self) -> dict:
        self.bar.close()
        return {"returns": self.returns, "lengths": self.lengths}


def _squeeze(Q: np.ndarray) -> np.ndarray:
    return Q[0] if len(Q) == 1 else Q


def td_control(env, method: str, episodes: int, alpha: float = 0.5, gamma: float = 1.0, epsilon: float = 0.1,
               lam: float = 0.9, trace: str = "accumulating", runs: int = 1, seed=None, Q=None,
               max_steps: int | None = None, callback=None, progress: bool = False):
    """Q-learning, SARSA, Expected SARSA or SARSA(lambda) with an epsilon-greedy behaviour policy.

    method: one of TD_METHODS. lam, trace ("accumulating": E(s,a) += 1, "replacing": E(s,a) = 1) are
    used by "sarsa-lambda" only. Q: initial table (S, A) or (runs, S, A), zeros by default.
    max_steps: stop an episode after this many steps (a time limit; the last step still bootstraps).
    callback(s, a, r, s2, a2, terminated): called after every update with the (runs,) arrays.
    progress: a tqdm bar over episodes.
    Returns (Q, stats) as described in the module docstring.
    """
    if method not in TD_METHODS:
        raise ValueError(f"unknown TD method {method!r}; choose from {TD_METHODS}")
    if trace not in ("accumulating", "replacing"):
        raise ValueError(f"trace must be 'accumulating' or 'replacing', got {trace!r}")
    env = as_runs(env, runs, seed)
    R, S, A = env.num_envs, env.n_states, env.n_actions
    rng = np.random.default_rng(seed)
    Q = np.zeros((R, S, A)) if Q is None else np.broadcast_to(np.asarray(Q, dtype=np.float64), (R, S, A)).copy()
    E = np.zeros((R, S, A)) if method == "sarsa-lambda" else None
    book, run = _Episodes(R, episodes, progress, method), np.arange(R)
    on_policy = method in ("sarsa", "sarsa-lambda")   # the target uses the next action actually taken
    s = env.reset(seed=seed)
    a = epsilon_greedy(Q[run, s], epsilon, rng)
    steps = np.zeros(R, dtype=np.int64)
    while book.active.any():
        live = book.active.astype(np.float64)
        s2, r, terminated, truncated = env.step(a)
        steps += 1
        if max_steps:
            truncated = truncated | (steps >= max_steps)
        if on_policy:
            a2 = epsilon_greedy(Q[run, s2], epsilon, rng)
        delta = td_target(method, Q[run, s2], a2 if on_policy else None, r, terminated, gamma, epsilon) - Q[run, s, a]
        if E is None:
            Q[run, s, a] += alpha * delta * live
        else:
            E[run, s, a] = E[run, s, a] + 1.0 if trace == "accumulating" else 1.0
            Q += (alpha * delta * live)[:, None, None] * E
            E *= gamma * lam
        if not on_policy:
            a2 = epsilon_greedy(Q[run, s2], epsilon, rng)
        if callback is not None:
            callback(s, a, r, s2, a2, terminated)
        done = terminated | truncated
        book.add(r, done)
        if done.any():
            s2 = np.where(done, env.reset_where(done), s2)
            a2 = np.where(done, epsilon_greedy(Q[run, s2], epsilon, rng), a2)
            steps[done] = 0
            if E is not None:
                E[done] = 0.0
        s, a = s2, a2
    return _squeeze(Q), book.stats()


def q_learning(env, episodes: int, **kw):
    """Off-policy TD control: target r + gamma max_a' Q(s', a'). See `td_control` for the options."""
    return td_control(env, "q-learning", episodes, **kw)


def sarsa(env, episodes: int, **kw):
    """On-policy TD control: target r + gamma Q(s', a') with a' the action the policy takes next."""
    return td_control(env, "sarsa", episodes, **kw)


def expected_sarsa(env, episodes: int, **kw):
    """TD control with target r + gamma E_pi[Q(s', A')] under the epsilon-greedy policy."""
    return td_control(env, "expected-sarsa", episodes, **kw)


def sarsa_lambda(env, episodes: int, lam: float = 0.9, trace: str = "accumulating", **kw):
    """SARSA(lambda): every recently visited (s, a) shares each TD error, weighted by its trace."""
    return td_control(env, "sarsa-lambda", episodes, lam=lam, trace=trace, **kw)


# ---- Monte Carlo ------------------------------------------------------------------------------
def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma r_{t+1} + gamma^2 r_{t+2} + ... for every t of one episode (T,).

    The recursion G_t = r_t + gamma G_{t+1}, run backwards by a linear filter (no Python loop;
    scipy.signal is imported here, as it takes a second to load)."""
    from scipy.signal import lfilter
    r = np.asarray(rewards, dtype=np.float64)
    return lfilter([1.0], [1.0, -gamma], r[::-1])[::-1].copy()


class _Trajectories:
    """The current episode of every run: integer labels (a state, or s * A + a) and rewards, kept in
    (runs, T) arrays that double in length when an episode outgrows them."""

    def __init__(self, runs: int):
        self.labels, self.rewards = np.zeros((runs, 64), dtype=np.int64), np.zeros((runs, 64))
        self.t = np.zeros(runs, dtype=np.int64)

    def add(self, labels: np.ndarray, rewards: np.ndarray) -> None:
        if self.t.max() >= self.labels.shape[1]:
            pad = self.labels.shape[1]
            self.labels = np.pad(self.labels, ((0, 0), (0, pad)))
            self.rewards = np.pad(self.rewards, ((0, 0), (0, pad)))
        run = np.arange(len(self.t))
        self.labels[run, self.t], self.rewards[run, self.t] = labels, rewards
        self.t += 1

    def episode(self, i: int, gamma: float):
        """(labels, returns G_t) of run i's episode so far."""
        return self.labels[i, :self.t[i]], discounted_returns(self.rewards[i, :self.t[i]], gamma)

    def clear(self, mask: np.ndarray) -> None:
        self.t[mask] = 0


def mc_control(env, episodes: int, gamma: float = 1.0, epsilon: float = 0.1, first_visit: bool = True,
               runs: int = 1, seed=None, max_steps: int | None = None, progress: bool = False):
    """On-policy Monte Carlo control with an epsilon-greedy policy (Sutton & Barto 5.4).

    After each episode, Q(s, a) becomes the average of all returns observed after (s, a): only the
    first visit of each pair in an episode (first_visit=True) or every visit. The average is kept
    incrementally: N(s,a) += n, Q(s,a) += (sum of the new returns - n Q(s,a)) / N(s,a).
    """
    env = as_runs(env, runs, seed)
    R, S, A = env.num_envs, env.n_states, env.n_actions
    rng = np.random.default_rng(seed)
    Q, N = np.zeros((R, S, A)), np.zeros((R, S, A))
    book, run = _Episodes(R, episodes, progress, "mc"), np.arange(R)
    episode = _Trajectories(R)   # labels: k = s * A + a
    s = env.reset(seed=seed)
    while book.active.any():
        a = epsilon_greedy(Q[run, s], epsilon, rng)
        s2, r, terminated, truncated = env.step(a)
        episode.add(s * A + a, r)
        done = terminated | truncated | (episode.t >= max_steps if max_steps else False)
        for i in (done & book.active).nonzero()[0]:        # episodes that just ended (usually one)
            k, G = episode.episode(i, gamma)
            if first_visit:
                k, first = np.unique(k, return_index=True)
                G = G[first]
            n = np.bincount(k, minlength=S * A).reshape(S, A)
            total = np.bincount(k, weights=G, minlength=S * A).reshape(S, A)
            N[i] += n
            Q[i] += np.divide(total - n * Q[i], N[i], out=np.zeros((S, A)), where=n > 0)
        book.add(r, done)
        episode.clear(done)
        s = np.where(done, env.reset_where(done), s2) if done.any() else s2
    return _squeeze(Q), book.stats()


# ---- prediction: the value of a fixed policy ---------------------------------------------------
def _prediction(env, policy: np.ndarray, episodes: int, alpha: float, gamma: float, method: str, runs: int,
                seed, V0: float):
    env = as_runs(env, runs, seed)
    R, S = env.num_envs, env.n_states
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.asarray(policy, dtype=np.float64), axis=1)
    V = np.full((R, S), float(V0))
    history = np.zeros((R, episodes + 1, S))
    history[:, 0] = V
    book, run = _Episodes(R, episodes), np.arange(R)
    episode = _Trajectories(R)   # labels: states
    s = env.reset(seed=seed)
    while book.active.any():
        a = (rng.random(R)[:, None] > cdf[s]).sum(axis=1)
        s2, r, terminated, truncated = env.step(a)
        live = book.active
        if method == "td":
            target = r + gamma * np.where(terminated, 0.0, V[run, s2])
            V[run, s] += alpha * (target - V[run, s]) * live
        else:
            episode.add(s, r)
        done = terminated | truncated
        for i in (done & live).nonzero()[0]:
            if method == "mc":   # constant-alpha MC: V(S_t) += alpha (G_t - V(S_t)), t = 0 .. T-1
                for st, G in zip(*episode.episode(i, gamma)):     # in order: a state may repeat
                    V[i, st] += alpha * (G - V[i, st])
            history[i, book.count[i] + 1] = V[i]
        book.add(r, done)
        episode.clear(done)
        s = np.where(done, env.reset_where(done), s2) if done.any() else s2
    return _squeeze(V), {"V_history": _squeeze(history), **book.stats()}


def td0_prediction(env, policy: np.ndarray, episodes: int, alpha: float = 0.1, gamma: float = 1.0, runs: int = 1,
                   seed=None, V0: float = 0.0):
    """TD(0) policy evaluation: V(s) += alpha [r + gamma V(s') - V(s)] after every step.

    policy: (S, A) action probabilities. Returns (V, stats) with stats["V_history"] the estimate
    after each episode, (runs, episodes + 1, S) (index 0 = the initial V0)."""
    return _prediction(env, policy, episodes, alpha, gamma, "td", runs, seed, V0)


def mc_prediction(env, policy: np.ndarray, episodes: int, alpha: float = 0.1, gamma: float = 1.0, runs: int = 1,
                  seed=None, V0: float = 0.0):
    """Constant-alpha every-visit Monte Carlo evaluation: V(S_t) += alpha [G_t - V(S_t)] at episode end."""
    return _prediction(env, policy, episodes, alpha, gamma, "mc", runs, seed, V0)
