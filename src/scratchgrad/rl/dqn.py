"""Deep Q-network (Mnih et al. 2015) and Double DQN (van Hasselt et al. 2016) for vector observations.

    agent, log = train_dqn("CartPole-v1", DQNConfig(), seed=0)   # until solved or out of budget
    evaluate(agent.policy, "CartPole-v1", episodes=100)

A network Q(s, .; w) replaces the table. Q-learning's update becomes a regression on the TD target

    y = r + gamma (1 - terminated) max_a' Q(s', a'; w_target)                   (DQN)
    y = r + gamma (1 - terminated) Q(s', argmax_a' Q(s', a'; w); w_target)      (Double DQN)
    loss = Huber(Q(s, a; w) - y)                                               y held constant

with the three tricks that keep it stable: transitions are replayed from a buffer in random order
(no correlated mini-batches), the target uses a lagging copy w_target of the weights, and the
gradient norm is clipped. Double DQN picks the next action with the online network and scores it
with the target network, which removes most of max's upward bias.

A time-limit truncation is not a terminal state: its target still bootstraps from s'.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

import scratchgrad as sg

from .common import BestWeights, TrainLog, make_env, mlp


# ---- replay buffer ------------------------------------------------------------------------
class ReplayBuffer:
    """A ring of the last `capacity` transitions in preallocated NumPy arrays.

    push() writes at `pos` and wraps around, overwriting the oldest; sample() draws uniformly with
    replacement from the `size` stored ones. Arrays: obs, next_obs (N, *obs_shape) float32,
    actions (N,) int64, rewards (N,) float32, terminated (N,) float32.
    """

    def __init__(self, capacity: int, obs_shape, obs_dtype=np.float32):
        self.capacity, self.pos, self.size = int(capacity), 0, 0
        self.obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)

    def __len__(self) -> int:
        return self.size

    def push(self, obs, action, reward, next_obs, terminated) -> None:
        """Store one transition, or a batch of n (leading axis n on every argument)."""
        obs = np.asarray(obs, dtype=self.obs.dtype)
        n = 1 if obs.shape == self.obs.shape[1:] else len(obs)
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx], self.next_obs[idx] = obs, next_obs
        self.actions[idx], self.rewards[idx], self.terminated[idx] = action, reward, terminated
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict:
        """A dict of arrays for `batch_size` transitions drawn uniformly at random."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, self.size, batch_size)
        return {"obs": self.obs[idx], "actions": self.actions[idx], "rewards": self.rewards[idx],
                "next_obs": self.next_obs[idx], "terminated": self.terminated[idx]}


# ---- the pieces of the update -------------------------------------------------------------
def linear_schedule(step: int, start: float, end: float, duration: int) -> float:
    """start -> end linearly over `duration` steps, then constant (the epsilon schedule)."""
    return end + (start - end) * max(0.0, 1.0 - step / max(duration, 1))


def soft_update(target, online, tau: float = 1.0) -> None:
    """w_target <- tau w + (1 - tau) w_target for every parameter and buffer (tau = 1: a hard copy).

    Works on the arrays in place (state_dict() returns the live storage)."""
    for t, w in zip(target.state_dict().values(), online.state_dict().values()):
        if tau >= 1.0:
            np.copyto(t, w)
        else:
            t *= 1.0 - tau
            t += tau * w


def td_targets(q_net, target_net, batch: dict, gamma: float, double: bool = False) -> np.ndarray:
    """y (B,) float32 = r + gamma (1 - terminated) Q_target(s', a*), with a* from the target (DQN)
    or from the online network (Double DQN). No gradient flows through y."""
    with sg.no_grad():
        next_obs = sg.tensor(batch["next_obs"])
        q_next = target_net(next_obs).data
        if double:
            a_star = q_net(next_obs).data.argmax(axis=1)
            v_next = q_next[np.arange(len(a_star)), a_star]
        else:
            v_next = q_next.max(axis=1)
    return (batch["rewards"] + gamma * (1.0 - batch["terminated"]) * v_next).astype(np.float32)


def dqn_loss(q_net, target_net, batch: dict, gamma: float, double: bool = False, loss: str = "huber"):
    """Huber (smooth L1, beta 1) or MSE between Q(s, a) and the TD target, averaged over the batch."""
    from ..nn import functional as F
    y = sg.tensor(td_targets(q_net, target_net, batch, gamma, double))
    q = q_net(sg.tensor(batch["obs"]))                                   # (B, A)
    q_sa = q.gather(1, sg.tensor(batch["actions"][:, None])).reshape(-1)  # (B,)
    return F.smooth_l1_loss(q_sa, y) if loss == "huber" else F.mse_loss(q_sa, y)


# ---- the agent and its training loop ---------------------------------------------------------
@dataclass
class DQNConfig:
    """Hyperparameters (defaults tuned for CartPole-v1)."""
    hidden: tuple = (256, 256)
    lr: float = 5e-4
    gamma: float = 0.99
    batch_size: int = 64
    buffer_size: int = 50_000
    learning_starts: int = 1_000        # random steps before the first update
    train_every: int = 1                # env steps per gradient step
    target_update: int = 1              # steps between target updates ...
    tau: float = 0.005                  # ... of this size (1.0 = hard copy)
    epsilon_start: float = 1.0
    epsilon_end: float = 0.02
    epsilon_decay_steps: int = 10_000
    max_grad_norm: float = 10.0
    double: bool = False
    loss: str = "huber"
    max_steps: int = 150_000            # training budget in environment steps
    max_episodes: int | None = None
    time_limit_s: float = 900.0         # wall-clock budget
    eval_every: int = 2_000             # steps between greedy evaluations
    eval_episodes: int = 20
    solved_return: float | None = 475.0  # stop when eval_episodes and then 100 episodes reach it
    confirm_episodes: int = 100


class DQNAgent:
    """Online network `q`, target network `target`, their optimizer, and the greedy policy."""

    def __init__(self, obs_dim: int, n_actions: int, config: DQNConfig):
        from .. import optim
        self.config = config
        self.q = mlp([obs_dim, *config.hidden, n_actions])
        self.target = copy.deepcopy(self.q)
        self.target.requires_grad_(False)
        self.optimizer = optim.Adam(self.q.parameters(), lr=config.lr)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        with sg.no_grad():
            return self.q(sg.tensor(np.asarray(obs, dtype=np.float32))).data

    def policy(self, obs: np.ndarray, t=None) -> np.ndarray:
        """Greedy actions for a batch of observations (n, obs_dim) -> (n,)."""
        return self.q_values(obs).argmax(axis=1)

    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
        """Epsilon-greedy action for one observation."""
        if rng.random() < epsilon:
            return int(rng.integers(self.q[-1].out_features))
        return int(self.q_values(obs[None]).argmax())

    def update(self, batch: dict) -> float:
        """One gradient step on a replayed mini-batch; returns the loss."""
        from ..nn.utils import clip_grad_norm_
        c = self.config
        loss = dqn_loss(self.q, self.target, batch, c.gamma, c.double, c.loss)
        self.optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(self.q.parameters(), c.max_grad_norm)
        self.optimizer.step()
        return float(loss.item())


def train_dqn(env_id: str = "CartPole-v1", config: DQNConfig | None = None, seed: int = 0, progress: bool = False,
              eval_seed: int = 10_000):
    """Train a (Double) DQN agent; returns (agent with its best weights, TrainLog).

    Every `eval_every` steps the greedy policy plays `eval_episodes` episodes. When their mean reaches
    `solved_return`, a `confirm_episodes` evaluation decides whether to stop. The weights with the
    best score are kept (score: the confirmation mean if there was one, else the short evaluation's).
    The final evaluation (`log.final_eval`) plays `confirm_episodes` episodes with the kept weights,
    on seeds (eval_seed, eval_seed + 1, ...) that no earlier evaluation used.
    Runs with one BLAS thread: for these small matrices threads only add overhead.
    """
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm
    c = config or DQNConfig()
    sg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = make_env(env_id)
    env.action_space.seed(seed)
    agent = DQNAgent(int(np.prod(env.observation_space.shape)), int(env.action_space.n), c)
    buffer = ReplayBuffer(c.buffer_size, env.observation_space.shape)
    log = TrainLog()
    keeper = BestWeights(agent.q.state_dict, agent.q.load_state_dict, env_id, log, c.eval_episodes,
                         c.confirm_episodes, c.solved_return, eval_seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    bar = tqdm(total=c.max_steps, disable=not progress, desc=f"dqn {env_id}", unit="step")

    with threadpool_limits(limits=1):
        obs, _ = env.reset(seed=seed)
        ep_return = 0.0
        for step in range(1, c.max_steps + 1):
            eps = linear_schedule(step, c.epsilon_start, c.epsilon_end, c.epsilon_decay_steps)
            action = agent.act(obs, eps, rng) if step > c.learning_starts else int(env.action_space.sample())
            next_obs, reward, terminated, truncated, _ = env.step(action)
            buffer.push(obs, action, reward, next_obs, terminated)
            ep_return += reward
            obs = next_obs
            if terminated or truncated:
                log.episode_returns.append(ep_return)
                log.episode_steps.append(step)
                bar.set_postfix(ret=f"{ep_return:.0f}", eps=f"{eps:.2f}", best=f"{log.best_eval_mean:.0f}")
                obs, ep_return = env.reset()[0], 0.0
            if step > c.learning_starts and step % c.train_every == 0:
                agent.update(buffer.sample(c.batch_size, rng))
                log.updates += 1
            if step % c.target_update == 0:
                soft_update(agent.target, agent.q, c.tau)
            bar.update(1)
            log.steps = step
            if step % c.eval_every == 0 and step > c.learning_starts and keeper.check(agent.policy, step):
                log.stop_reason = "solved"
                break
            if time.perf_counter() - start > c.time_limit_s:
                log.stop_reason = "time limit"
                break
            if c.max_episodes is not None and len(log.episode_returns) >= c.max_episodes:
                log.stop_reason = "episode limit"
                break
        else:
            log.stop_reason = "step limit"
        bar.close()
        keeper.final(agent.policy)
    log.wall_time_s = time.perf_counter() - start
    log.cpu_time_s = time.process_time() - cpu_start
    env.close()
    return agent, log
