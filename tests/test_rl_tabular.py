"""Tabular model-free methods: update rules by hand, step-by-step replays, MC averaging, seeds."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from scratchgrad.rl import tabular  # noqa: E402
from scratchgrad.rl.mdp import TabularMDP, from_env, random_walk_mdp  # noqa: E402


def corridor(n=4, slip=0.0):
    """States 0..n-1 in a row, terminal n-1; action 0 = left, 1 = right; reward -1 per step,
    +5 on arriving at the end. With `slip`, a move goes the other way with that probability."""
    S = n
    P = np.zeros((S, 2, S))
    for s in range(n - 1):
        left, right = max(s - 1, 0), s + 1
        P[s, 0, left] += 1 - slip
        P[s, 0, right] += slip
        P[s, 1, right] += 1 - slip
        P[s, 1, left] += slip
    P[n - 1, :, n - 1] = 1.0
    R_next = np.full((S, 2, S), -1.0)
    R_next[:, :, n - 1] = 5.0
    R_next[n - 1] = 0.0
    R = (P * R_next).sum(axis=2)
    terminal = np.zeros(S, dtype=bool)
    terminal[n - 1] = True
    start = np.zeros(S)
    start[0] = 1.0
    return TabularMDP(P, R, R_next, terminal, start, "corridor")


# ---- the targets, with numbers worked by hand -------------------------------------------------
def test_td_targets_by_hand():
    q_next = np.array([[1.0, 3.0]])          # Q(s', left) = 1, Q(s', right) = 3
    r, gamma = np.array([-1.0]), 0.9
    done, not_done = np.array([True]), np.array([False])
    # Q-learning: -1 + 0.9 * max(1, 3) = 1.7
    assert tabular.td_target("q-learning", q_next, None, r, not_done, gamma)[0] == pytest.approx(1.7)
    # SARSA with a' = left: -1 + 0.9 * 1 = -0.1
    assert tabular.td_target("sarsa", q_next, np.array([0]), r, not_done, gamma)[0] == pytest.approx(-0.1)
    # Expected SARSA, epsilon 0.2: pi = (0.1, 0.9) -> -1 + 0.9 * (0.1 * 1 + 0.9 * 3) = 1.52
    assert tabular.td_target("expected-sarsa", q_next, None, r, not_done, gamma, 0.2)[0] == pytest.approx(1.52)
    for method in ("q-learning", "sarsa", "expected-sarsa"):    # terminal s': just r
        assert tabular.td_target(method, q_next, np.array([1]), r, done, gamma, 0.2)[0] == -1.0


def test_q_learning_and_sarsa_first_updates_by_hand():
    """Corridor 0 -> 1 -> 2 -> 3 (terminal), one action forced by Q0 and epsilon 0, alpha 0.5, gamma 1.

    Start Q = [[0, 0], [0, 0], [0, 0]] but make 'right' greedy with Q0(s, right) = 1:
      step 1: s=0, right, r=-1, s'=1:  Q(0,R) = 1 + 0.5 (-1 + Q(1,R)=1 - 1) = 0.5
      step 2: s=1, right, r=-1, s'=2:  Q(1,R) = 1 + 0.5 (-1 + 1 - 1) = 0.5
      step 3: s=2, right, r=+5, s'=3 terminal: Q(2,R) = 1 + 0.5 (5 - 1) = 3
    With epsilon 0 the greedy next action is also the max: SARSA and Q-learning agree here.
    """
    Q0 = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    for method in ("q-learning", "sarsa"):
        Q, stats = tabular.td_control(corridor(), method, 1, alpha=0.5, gamma=1.0, epsilon=0.0, Q=Q0, seed=0)
        np.testing.assert_allclose(Q[:, 1], [0.5, 0.5, 3.0, 0.0])
        np.testing.assert_allclose(Q[:, 0], 0.0)
        assert stats["returns"][0, 0] == 3.0 and stats["lengths"][0, 0] == 3


def _replay(method, steps, S, A, alpha, gamma, epsilon=0.0, lam=0.0, trace="accumulating"):
    """A plain scalar re-implementation of each textbook update, run over recorded transitions."""
    Q = np.zeros((S, A))
    E = np.zeros((S, A))
    for s, a, r, s2, a2, term in steps:
        if method == "q-learning":
            v = max(Q[s2])
        elif method in ("sarsa", "sarsa-lambda"):
            v = Q[s2, a2]
        else:  # expected SARSA
            best = [b for b in range(A) if Q[s2, b] == max(Q[s2])]
            v = sum((epsilon / A + ((1 - epsilon) / len(best) if b in best else 0.0)) * Q[s2, b] for b in range(A))
        delta = r + (0.0 if term else gamma * v) - Q[s, a]
        if method == "sarsa-lambda":
            E[s, a] = E[s, a] + 1 if trace == "accumulating" else 1.0
            Q += alpha * delta * E
            E *= gamma * lam
            if term:
                E[:] = 0.0
        else:
            Q[s, a] += alpha * delta
    return Q


@pytest.mark.parametrize("method,kw", [("q-learning", {}), ("sarsa", {}), ("expected-sarsa", {}),
                                       ("sarsa-lambda", {"lam": 0.8, "trace": "accumulating"}),
                                       ("sarsa-lambda", {"lam": 0.8, "trace": "replacing"})])
def test_updates_step_by_step_against_scalar_reference(method, kw):
    """Record every transition the vectorised learner sees, replay them through scalar formulas,
    and compare the table after every step."""
    mdp = corridor(5, slip=0.2)
    steps, tables = [], []

    def record(s, a, r, s2, a2, term):
        steps.append((int(s[0]), int(a[0]), float(r[0]), int(s2[0]), int(a2[0]), bool(term[0])))

    alpha, gamma, eps = 0.3, 0.95, 0.3
    Q, _ = tabular.td_control(mdp, method, 6, alpha=alpha, gamma=gamma, epsilon=eps, seed=3, callback=record, **kw)
    assert len(steps) > 10
    ref = _replay(method, steps, 5, 2, alpha, gamma, eps, kw.get("lam", 0.0), kw.get("trace", "accumulating"))
    np.testing.assert_allclose(Q, ref, atol=1e-12)
    # and the first few steps one at a time
    for k in (1, 2, 3):
        partial, _ = tabular.td_control(mdp, method, 1, alpha=alpha, gamma=gamma, epsilon=eps, seed=3,
                                        max_steps=k, **kw)
        tables.append(partial)
        np.testing.assert_allclose(partial, _replay(method, steps[:k], 5, 2, alpha, gamma, eps,
                                                    kw.get("lam", 0.0), kw.get("trace", "accumulating")), atol=1e-12)


def test_sarsa_uses_the_action_it_takes_next_q_learning_the_best():
    """With exploration, the replayed SARSA and Q-learning tables differ (on- vs off-policy)."""
    mdp = corridor(5, slip=0.2)
    q, _ = tabular.q_learning(mdp, 30, alpha=0.3, gamma=0.95, epsilon=0.5, seed=1)
    s, _ = tabular.sarsa(mdp, 30, alpha=0.3, gamma=0.95, epsilon=0.5, seed=1)
    assert not np.allclose(q, s)


def test_epsilon_greedy_probabilities_and_ties():
    rng = np.random.default_rng(0)
    q = np.tile(np.array([[1.0, 3.0, 3.0, 0.0]]), (40_000, 1))
    a = tabular.epsilon_greedy(q, 0.2, rng)
    freq = np.bincount(a, minlength=4) / len(a)
    np.testing.assert_allclose(freq, tabular.epsilon_greedy_probs(q[:1], 0.2)[0], atol=0.01)
    np.testing.assert_allclose(tabular.epsilon_greedy_probs(q[:1], 0.2)[0], [0.05, 0.45, 0.45, 0.05])


# ---- Monte Carlo -----------------------------------------------------------------------------
def test_discounted_returns():
    r = np.array([1.0, 0.0, 2.0, -1.0])
    expected = [1 + 0.5 * 0 + 0.25 * 2 - 0.125, 0 + 0.5 * 2 - 0.25, 2 - 0.5, -1.0]
    np.testing.assert_allclose(tabular.discounted_returns(r, 0.5), expected)


def loop_mdp():
    """One state that loops onto itself with probability 1/2, else ends; reward 1 per step."""
    P = np.zeros((2, 1, 2))
    P[0, 0] = [0.5, 0.5]
    P[1, 0, 1] = 1.0
    R_next = np.zeros((2, 1, 2))
    R_next[0] = 1.0
    return TabularMDP(P, (P * R_next).sum(2), R_next, np.array([False, True]), np.array([1.0, 0.0]), "loop")


def test_first_visit_vs_every_visit_by_hand():
    """An episode of L steps in the one state has returns L, L-1, ..., 1 (gamma 1): first-visit MC
    records L, every-visit the average (L + 1) / 2."""
    for first_visit in (True, False):
        Q, stats = tabular.mc_control(loop_mdp(), 1, gamma=1.0, epsilon=0.0, first_visit=first_visit, seed=0)
        L = stats["lengths"][0, 0]
        assert L == 4   # this seed: 4 steps, returns 4, 3, 2, 1
        assert Q[0, 0] == pytest.approx(L if first_visit else (L + 1) / 2)


def test_mc_control_averages_over_episodes():
    Q, stats = tabular.mc_control(loop_mdp(), 3, gamma=1.0, epsilon=0.0, first_visit=True, seed=2)
    assert Q[0, 0] == pytest.approx(stats["lengths"][0].mean())     # the mean of the three first returns
    Q, _ = tabular.mc_control(loop_mdp(), 500, gamma=1.0, epsilon=0.0, first_visit=False, seed=2)
    # every-visit: each visit's return is geometric with mean 2 (the expected remaining length)
    assert Q[0, 0] == pytest.approx(2.0, abs=0.25)


def test_mc_control_finds_the_corridor_exit():
    Q, _ = tabular.mc_control(corridor(5), 300, gamma=1.0, epsilon=0.1, seed=0)
    assert (Q[:4].argmax(axis=1) == 1).all()


# ---- prediction, real environments, seeds, batches -------------------------------------------
def test_td0_and_mc_prediction_converge_on_the_random_walk():
    mdp, policy = random_walk_mdp(5), np.ones((7, 1))
    true = np.arange(1, 6) / 6
    for fn, alpha in ((tabular.td0_prediction, 0.05), (tabular.mc_prediction, 0.02)):
        V, stats = fn(mdp, policy, 100, alpha=alpha, runs=20, seed=0, V0=0.5)
        assert V.shape == (20, 7) and stats["V_history"].shape == (20, 101, 7)
        rms = np.sqrt(((V[:, 1:6] - true) ** 2).mean())
        assert rms < 0.12, fn.__name__
        np.testing.assert_allclose(stats["V_history"][:, -1], V)


def test_runs_on_a_real_gymnasium_env():
    env = gym.make("CliffWalking-v1")
    Q, stats = tabular.q_learning(env, 60, alpha=0.5, gamma=1.0, epsilon=0.1, seed=0)
    assert Q.shape == (48, 4) and stats["returns"].shape == (1, 60)
    assert stats["returns"][0, -10:].mean() > stats["returns"][0, :5].mean()
    Q2, _ = tabular.sarsa_lambda(gym.make("FrozenLake-v1"), 30, lam=0.5, seed=0, alpha=0.1, gamma=0.99)
    assert Q2.shape == (16, 4)


@pytest.mark.parametrize("method", tabular.TD_METHODS)
def test_seeds_reproduce(method):
    mdp = from_env(gym.make("FrozenLake-v1"))
    a = tabular.td_control(mdp, method, 20, seed=7, runs=3)
    b = tabular.td_control(mdp, method, 20, seed=7, runs=3)
    c = tabular.td_control(mdp, method, 20, seed=8, runs=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1]["returns"], b[1]["returns"])
    assert not np.array_equal(a[0], c[0])
    env_runs = [tabular.td_control(gym.make("FrozenLake-v1"), method, 5, seed=1)[0] for _ in range(2)]
    np.testing.assert_array_equal(*env_runs)


def test_batched_runs_are_independent():
    mdp = from_env(gym.make("CliffWalking-v1"))
    Q, stats = tabular.q_learning(mdp, 10, seed=0, runs=4)
    assert Q.shape == (4, 48, 4) and stats["returns"].shape == (4, 10)
    assert len({tuple(r) for r in stats["lengths"]}) == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown TD method"):
        tabular.td_control(corridor(), "sarsa-max", 1)
    with pytest.raises(ValueError, match="trace"):
        tabular.sarsa_lambda(corridor(), 1, trace="dutch")
