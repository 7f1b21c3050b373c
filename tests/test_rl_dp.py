"""MDP extraction and dynamic programming: closed-form values, the gymnasium models, FrozenLake's numbers."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from scratchgrad.rl import dp  # noqa: E402
from scratchgrad.rl.common import make_env, resolve_env_id  # noqa: E402
from scratchgrad.rl.mdp import (VectorTabularEnv, from_env, random_walk_mdp, simulate_returns,  # noqa: E402
                                two_state_mdp, two_state_optimal)


# ---- the tiny MDP with closed-form optimal values --------------------------------------------
@pytest.mark.parametrize("gamma,p", [(0.9, 0.5), (0.5, 0.5), (0.3, 0.5), (0.99, 0.1), (0.6, 0.9)])
def test_two_state_optimal_values(gamma, p):
    mdp = two_state_mdp(p)
    V_star, Q_star, pi_star = two_state_optimal(gamma, p)
    for solve in (dp.value_iteration, dp.policy_iteration):
        pi, V, info = solve(mdp, gamma, theta=1e-12)
        np.testing.assert_allclose(V, V_star, rtol=1e-8)
        np.testing.assert_array_equal(pi, pi_star)
    np.testing.assert_allclose(dp.q_values(mdp, V_star, gamma), Q_star, rtol=1e-12)


def test_two_state_optimal_policy_switches_with_gamma():
    # small gamma: the sure reward 1 now beats the trip to state 1; large gamma: go
    assert two_state_optimal(0.3)[2][0] == 0
    assert two_state_optimal(0.9)[2][0] == 1


def test_policy_evaluation_closed_form_and_linear_solve():
    gamma, mdp = 0.9, two_state_mdp(0.5)
    stay = dp.one_hot_policy([0, 0], 2)                      # V = r / (1 - gamma): 10 and 20
    V, sweeps = dp.policy_evaluation(mdp, stay, gamma, theta=1e-12)
    np.testing.assert_allclose(V, [10.0, 20.0], rtol=1e-9)
    np.testing.assert_allclose(dp.policy_evaluation_exact(mdp, stay, gamma), [10.0, 20.0], rtol=1e-12)
    uniform = np.full((2, 2), 0.5)
    np.testing.assert_allclose(dp.policy_evaluation(mdp, uniform, gamma, theta=1e-13)[0],
                               dp.policy_evaluation_exact(mdp, uniform, gamma), rtol=1e-9)


def test_random_walk_true_values():
    mdp = random_walk_mdp(5)
    V = dp.policy_evaluation_exact(mdp, np.ones((7, 1)), gamma=1.0)
    np.testing.assert_allclose(V[1:6], np.arange(1, 6) / 6)
    assert V[0] == V[6] == 0


def test_finite_horizon_backward_induction():
    mdp, gamma = two_state_mdp(0.5), 0.9
    actions, V1 = dp.finite_horizon_value_iteration(mdp, 1, gamma)
    np.testing.assert_allclose(V1, mdp.R.max(axis=1))          # one step left: the best immediate reward
    _, V_long = dp.finite_horizon_value_iteration(mdp, 400, gamma)
    np.testing.assert_allclose(V_long, two_state_optimal(gamma)[0], rtol=1e-9)


# ---- models read from gymnasium ----------------------------------------------------------------
@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", "Taxi-v4"])
def test_from_env_is_a_valid_model(env_id):
    mdp = from_env(gym.make(env_id))
    S, A = mdp.n_states, mdp.n_actions
    assert mdp.P.shape == (S, A, S) and mdp.R.shape == (S, A) and mdp.terminal.shape == (S,)
    np.testing.assert_allclose(mdp.P.sum(axis=2), 1.0)
    t = mdp.terminal.nonzero()[0]
    np.testing.assert_array_equal(mdp.P[t, :, t], 1.0)        # absorbing, worth nothing
    assert (mdp.R[t] == 0).all()
    np.testing.assert_allclose(mdp.start.sum(), 1.0)
    np.testing.assert_allclose((mdp.P * mdp.R_next).sum(axis=2), mdp.R)


def test_frozenlake_and_cliff_models_match_the_maps():
    lake = from_env(gym.make("FrozenLake-v1"))
    desc = np.array(gym.make("FrozenLake-v1").unwrapped.desc, dtype="U1").ravel()
    np.testing.assert_array_equal(lake.terminal, np.isin(desc, ["H", "G"]))
    np.testing.assert_allclose(lake.P[0, 0, [0, 4]], [2 / 3, 1 / 3])   # left from the corner: slip down 1/3
    assert lake.R[14, 2] == pytest.approx(1 / 3)                         # right next to the goal
    cliff = from_env(gym.make("CliffWalking-v1"))
    assert cliff.P[36, 1, 36] == 1 and cliff.R[36, 1] == -100           # step into the cliff: back to start
    assert cliff.terminal.nonzero()[0].tolist() == [47]


def test_resolve_env_id():
    assert resolve_env_id("CliffWalking") == "CliffWalking-v1"
    assert resolve_env_id("FrozenLake8x8-v1") == "FrozenLake8x8-v1"
    with pytest.raises(ValueError, match="Taxi-v4"):
        resolve_env_id("Taxi-v3")
    with pytest.raises(ValueError, match="unknown environment"):
        resolve_env_id("NoSuchEnv-v0")


# ---- FrozenLake: exact success rates -----------------------------------------------------------
@pytest.mark.parametrize("env_id,best", [("FrozenLake-v1", 0.744), ("FrozenLake8x8-v1", 0.913)])
def test_frozenlake_exact_success(env_id, best):
    env = gym.make(env_id)
    mdp, T = from_env(env), env.spec.max_episode_steps
    _, V_T = dp.finite_horizon_value_iteration(mdp, T)
    assert V_T[0] == pytest.approx(best, abs=5e-4)                 # the best success within the time limit
    pi_v, V_v, _ = dp.value_iteration(mdp, 0.9999)
    pi_p, V_p, info = dp.policy_iteration(mdp, 0.9999)
    np.testing.assert_array_equal(pi_v, pi_p)
    np.testing.assert_allclose(V_v, V_p, atol=1e-6)
    assert info.iterations < 20
    within_limit = dp.policy_evaluation_horizon(mdp, dp.one_hot_policy(pi_p, 4), T)[0]
    assert within_limit <= V_T[0] + 1e-12                           # a stationary policy cannot do better


def test_frozenlake_4x4_unlimited_success_is_14_over_17():
    mdp = from_env(gym.make("FrozenLake-v1"))
    pi, _, _ = dp.policy_iteration(mdp, 0.9999)
    assert dp.policy_evaluation_exact(mdp, dp.one_hot_policy(pi, 4), 1.0)[0] == pytest.approx(14 / 17)


def test_vector_env_samples_the_model():
    mdp = from_env(gym.make("FrozenLake-v1"))
    env = VectorTabularEnv(mdp, num_envs=30_000, seed=0)
    env.reset()
    env.state[:] = 5 + 1  # state 6, action 1 (down): slips left/right with 1/3 each
    s2, r, term, trunc = env.step(np.ones(30_000, dtype=np.int64))
    freq = np.bincount(s2, minlength=16) / len(s2)
    np.testing.assert_allclose(freq, mdp.P[6, 1], atol=0.015)
    np.testing.assert_array_equal(term, mdp.terminal[s2])


def test_simulated_success_matches_exact():
    mdp = from_env(gym.make("FrozenLake-v1"))
    actions, V = dp.finite_horizon_value_iteration(mdp, 100)
    returns = simulate_returns(mdp, lambda s, t: actions[np.minimum(t, 99), s], 20_000, 100, seed=1)
    assert returns.mean() == pytest.approx(V[0], abs=0.015)


def test_make_env_uses_newest_version():
    assert make_env("CliffWalking").spec.id == "CliffWalking-v1"
