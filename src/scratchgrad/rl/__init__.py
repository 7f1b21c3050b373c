"""`scratchgrad.rl`: reinforcement learning on gymnasium environments, from tables to networks.

    import gymnasium as gym
    from scratchgrad import rl

    mdp = rl.from_env(gym.make("FrozenLake-v1"))          # model-based: P (S, A, S'), R (S, A)
    policy, V, info = rl.value_iteration(mdp, gamma=0.99)

    Q, stats = rl.q_learning(gym.make("CliffWalking-v1"), episodes=500, alpha=0.5, epsilon=0.1)  # model-free
    agent, log = rl.train_dqn("CartPole-v1", rl.DQNConfig(), seed=0)                              # deep

Modules: `mdp` (finite MDPs, models read from gymnasium, batched simulation), `dp` (policy evaluation,
policy iteration, value iteration), `tabular` (Monte Carlo, TD(0), Q-learning, SARSA, Expected SARSA,
SARSA(lambda)), `dqn` (replay buffer, target network, DQN / Double DQN), `reinforce` (REINFORCE with
a baseline), `common` (envs by id, lock-step episodes, evaluation), `labs` and `cli`.
gymnasium (>= 1.0) is needed for the environments; it is imported only where one is made.
"""
from __future__ import annotations

from .dp import (finite_horizon_value_iteration, policy_evaluation, policy_evaluation_exact, policy_iteration,
                 q_values, value_iteration)
from .dqn import DQNAgent, DQNConfig, ReplayBuffer, dqn_loss, soft_update, train_dqn
from .mdp import TabularMDP, VectorTabularEnv, from_env, random_walk_mdp, two_state_mdp
from .reinforce import ReinforceAgent, ReinforceConfig, train_reinforce
from .tabular import (expected_sarsa, mc_control, mc_prediction, q_learning, sarsa, sarsa_lambda, td0_prediction,
                      td_control)
from .common import evaluate, make_env, run_episodes

__all__ = ["DQNAgent", "DQNConfig", "ReinforceAgent", "ReinforceConfig", "ReplayBuffer", "TabularMDP",
           "VectorTabularEnv", "dqn_loss", "evaluate", "expected_sarsa", "finite_horizon_value_iteration",
           "from_env", "make_env", "mc_control", "mc_prediction", "policy_evaluation", "policy_evaluation_exact",
           "policy_iteration", "q_learning", "q_values", "random_walk_mdp", "run_episodes", "sarsa", "sarsa_lambda",
           "soft_update", "td0_prediction", "td_control", "train_dqn", "train_reinforce", "two_state_mdp",
           "value_iteration"]
