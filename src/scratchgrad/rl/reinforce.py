"""REINFORCE with a learned baseline (Williams 1992; Sutton & Barto 13.4): the policy-based counterpart.

    agent, log = train_reinforce("CartPole-v1", ReinforceConfig(), seed=0)

Instead of action values, a network outputs the policy pi(a|s; theta) itself (a softmax over logits)
and is pushed up the gradient of the expected return:

    grad J = E[ sum_t grad log pi(a_t|s_t) (G_t - b(s_t)) ]

G_t is the (discounted) return that followed step t; the baseline b(s) = V(s; w), a second network
fitted to G_t by least squares, does not change the expectation but cuts the variance. Episodes are
collected in batches (played in lock-step), advantages G_t - b(s_t) standardised per batch.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import scratchgrad as sg

from .common import BestWeights, TrainLog, make_env, mlp, run_episodes
from .tabular import discounted_returns


@dataclass
class ReinforceConfig:
    hidden: tuple = (128,)
    lr: float = 2e-3
    value_lr: float = 5e-3
    gamma: float = 0.99
    episodes_per_update: int = 8
    normalize_advantages: bool = True
    max_episodes: int = 4_000
    time_limit_s: float = 900.0
    eval_every: int = 10                 # updates between greedy evaluations
    eval_episodes: int = 20
    solved_return: float | None = 475.0
    confirm_episodes: int = 100


class ReinforceAgent:
    """Policy network (logits) and baseline network (V), each with its own Adam."""

    def __init__(self, obs_dim: int, n_actions: int, config: ReinforceConfig):
        from .. import optim
        self.config = config
        self.policy_net = mlp([obs_dim, *config.hidden, n_actions])
        self.value_net = mlp([obs_dim, *config.hidden, 1])
        self.policy_opt = optim.Adam(self.policy_net.parameters(), lr=config.lr)
        self.value_opt = optim.Adam(self.value_net.parameters(), lr=config.value_lr)

    def probs(self, obs: np.ndarray) -> np.ndarray:
        with sg.no_grad():
            return sg.softmax(self.policy_net(sg.tensor(np.asarray(obs, dtype=np.float32))), -1).data

    def policy(self, obs: np.ndarray, t=None) -> np.ndarray:
        """The greedy (most probable) action, for evaluation."""
        return self.probs(obs).argmax(axis=1)

    def sampler(self, rng: np.random.Generator):
        """A run_episodes policy that samples a ~ pi(.|s) (inverse CDF, one uniform per row)."""
        def sample(obs, t):
            cdf = np.cumsum(self.probs(obs), axis=1)
            return np.minimum((cdf < rng.random((len(cdf), 1)) * cdf[:, -1:]).sum(axis=1), cdf.shape[1] - 1)
        return sample

    def state_dict(self) -> dict:
        sd = {f"policy.{k}": v for k, v in self.policy_net.state_dict().items()}
        sd.update({f"value.{k}": v for k, v in self.value_net.state_dict().items()})
        return sd

    def load_state_dict(self, sd: dict) -> None:
        self.policy_net.load_state_dict({k[7:]: v for k, v in sd.items() if k.startswith("policy.")})
        self.value_net.load_state_dict({k[6:]: v for k, v in sd.items() if k.startswith("value.")})

    def update(self, trajectories: list) -> dict:
        """One policy-gradient step and one baseline step on a batch of episodes."""
        from ..nn import functional as F
        c = self.config
        obs = sg.tensor(np.concatenate([tr["obs"] for tr in trajectories]).astype(np.float32))
        actions = np.concatenate([tr["actions"] for tr in trajectories]).astype(np.int64)
        G = np.concatenate([discounted_returns(tr["rewards"], c.gamma) for tr in trajectories]).astype(np.float32)

        values = self.value_net(obs).reshape(-1)
        adv = G - values.data
        if c.normalize_advantages and len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        logp = sg.log_softmax(self.policy_net(obs), -1).gather(1, sg.tensor(actions[:, None])).reshape(-1)
        policy_loss = -(logp * sg.tensor(adv.astype(np.float32))).mean()
        value_loss = F.mse_loss(values, sg.tensor(G))
        for opt, loss in ((self.policy_opt, policy_loss), (self.value_opt, value_loss)):
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {"policy_loss": float(policy_loss.item()), "value_loss": float(value_loss.item())}


def train_reinforce(env_id: str = "CartPole-v1", config: ReinforceConfig | None = None, seed: int = 0,
                    progress: bool = False, eval_seed: int = 10_000):
    """Train REINFORCE with baseline; returns (agent with its best weights, TrainLog) as train_dqn."""
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm
    c = config or ReinforceConfig()
    sg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = make_env(env_id)
    agent = ReinforceAgent(int(np.prod(env.observation_space.shape)), int(env.action_space.n), c)
    env.close()
    log = TrainLog()
    keeper = BestWeights(agent.state_dict, agent.load_state_dict, env_id, log, c.eval_episodes, c.confirm_episodes,
                         c.solved_return, eval_seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    bar = tqdm(total=c.max_episodes, disable=not progress, desc=f"reinforce {env_id}", unit="ep")
    with threadpool_limits(limits=1):
        updates = 0
        while len(log.episode_returns) < c.max_episodes:
            n = min(c.episodes_per_update, c.max_episodes - len(log.episode_returns))
            returns, trajectories = run_episodes(agent.sampler(rng), env_id, n, seed=seed * 1_000_003 + len(
                log.episode_returns), record=True)
            agent.update(trajectories)
            updates += 1
            for tr, r in zip(trajectories, returns):
                log.steps += len(tr["rewards"])
                log.episode_returns.append(float(r))
                log.episode_steps.append(log.steps)
            log.updates = updates
            bar.update(n)
            bar.set_postfix(ret=f"{np.mean(returns):.0f}", best=f"{log.best_eval_mean:.0f}")
            if updates % c.eval_every == 0 and keeper.check(agent.policy, log.steps):
                log.stop_reason = "solved"
                break
            if time.perf_counter() - start > c.time_limit_s:
                log.stop_reason = "time limit"
                break
        else:
            log.stop_reason = "episode limit"
        bar.close()
        keeper.final(agent.policy)
    log.wall_time_s = time.perf_counter() - start
    log.cpu_time_s = time.process_time() - cpu_start
    return agent, log
