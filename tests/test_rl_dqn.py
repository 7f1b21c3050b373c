"""DQN and REINFORCE: replay buffer, target network, loss and gradients against PyTorch, seeds, CartPole."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import scratchgrad as sg  # noqa: E402
from conftest import assert_close, to_torch  # noqa: E402
from scratchgrad.rl.common import evaluate, mlp, run_episodes  # noqa: E402
from scratchgrad.rl.dqn import (DQNAgent, DQNConfig, ReplayBuffer, dqn_loss, linear_schedule,  # noqa: E402
                                soft_update, td_targets, train_dqn)
from scratchgrad.rl.reinforce import ReinforceAgent, ReinforceConfig, train_reinforce  # noqa: E402


# ---- replay buffer --------------------------------------------------------------------------
def _transition(i):
    return np.full(3, i, np.float32), i % 2, float(i), np.full(3, i + 0.5, np.float32), float(i % 3 == 0)


def test_replay_buffer_wraps_around():
    buf = ReplayBuffer(5, (3,))
    for i in range(7):
        buf.push(*_transition(i))
    assert len(buf) == 5 and buf.pos == 2
    # slots 0, 1 were overwritten by transitions 5, 6; slots 2..4 still hold 2..4
    np.testing.assert_array_equal(buf.obs[:, 0], [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buf.rewards, [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buf.next_obs[:, 0], [5.5, 6.5, 2.5, 3.5, 4.5])
    np.testing.assert_array_equal(buf.actions, [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(buf.terminated, [0, 1, 0, 1, 0])
    assert buf.obs.dtype == np.float32 and buf.actions.dtype == np.int64


def test_replay_buffer_batch_push_across_the_end():
    buf = ReplayBuffer(4, (2,))
    buf.push(np.zeros((3, 2)), np.zeros(3), np.zeros(3), np.zeros((3, 2)), np.zeros(3))
    buf.push(np.ones((3, 2)), np.ones(3), np.ones(3), np.ones((3, 2)), np.ones(3))   # writes slots 3, 0, 1
    np.testing.assert_array_equal(buf.rewards, [1, 1, 0, 1])
    assert len(buf) == 4 and buf.pos == 2


def test_replay_buffer_samples_only_stored_transitions_reproducibly():
    buf = ReplayBuffer(100, (3,))
    for i in range(10):
        buf.push(*_transition(i))
    a = buf.sample(500, np.random.default_rng(0))
    b = buf.sample(500, np.random.default_rng(0))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert set(a["rewards"].tolist()) == set(range(10))       # uniform over the 10 stored, nothing else
    np.testing.assert_array_equal(a["obs"][:, 0], a["rewards"])   # fields stay aligned
    np.testing.assert_array_equal(a["next_obs"][:, 0], a["rewards"] + 0.5)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, (1,)).sample(1, np.random.default_rng(0))


def test_linear_schedule():
    assert linear_schedule(0, 1.0, 0.1, 100) == 1.0
    assert linear_schedule(50, 1.0, 0.1, 100) == pytest.approx(0.55)
    assert linear_schedule(100, 1.0, 0.1, 100) == linear_schedule(10_000, 1.0, 0.1, 100) == pytest.approx(0.1)


# ---- target network ------------------------------------------------------------------------
def test_target_network_update():
    online, target = mlp([4, 8, 2]), mlp([4, 8, 2])
    before = {k: v.copy() for k, v in target.state_dict().items()}
    soft_update(target, online, tau=0.25)
    for k, v in target.state_dict().items():
        np.testing.assert_allclose(v, 0.75 * before[k] + 0.25 * online.state_dict()[k], rtol=1e-6)
        assert v.dtype == np.float32
    soft_update(target, online, tau=1.0)
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v, online.state_dict()[k])
    # a copy, not shared storage: training the online net leaves the target alone
    frozen = {k: v.copy() for k, v in target.state_dict().items()}
    for p in online.parameters():
        p.data += 1.0
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v, frozen[k])


def test_agent_target_starts_equal_and_lags():
    agent = DQNAgent(4, 2, DQNConfig(hidden=(16,), lr=0.01))
    for k, v in agent.target.state_dict().items():
        np.testing.assert_array_equal(v, agent.q.state_dict()[k])
    assert all(not p.requires_grad for p in agent.target.parameters())
    rng = np.random.default_rng(0)
    batch = {"obs": rng.standard_normal((8, 4)).astype(np.float32), "actions": rng.integers(0, 2, 8),
             "rewards": np.ones(8, np.float32), "next_obs": rng.standard_normal((8, 4)).astype(np.float32),
             "terminated": np.zeros(8, np.float32)}
    agent.update(batch)
    assert any(not np.array_equal(v, agent.q.state_dict()[k]) for k, v in agent.target.state_dict().items())


# ---- loss and gradient against a plain reference ---------------------------------------------
def _batch(rng, B=16, obs_dim=4, A=3):
    return {"obs": rng.standard_normal((B, obs_dim)).astype(np.float32), "actions": rng.integers(0, A, B),
            "rewards": rng.standard_normal(B).astype(np.float32),
            "next_obs": rng.standard_normal((B, obs_dim)).astype(np.float32),
            "terminated": (rng.random(B) < 0.3).astype(np.float32)}


def _torch_mlp(torch, net):
    layers = [m for m in net if hasattr(m, "weight")]
    t_layers = []
    for i, m in enumerate(layers):
        lin = torch.nn.Linear(m.in_features, m.out_features)
        with torch.no_grad():
            lin.weight.copy_(to_torch(torch, m.weight))
            lin.bias.copy_(to_torch(torch, m.bias))
        t_layers += [lin] + ([torch.nn.ReLU()] if i < len(layers) - 1 else [])
    return torch.nn.Sequential(*t_layers)


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("loss", ["huber", "mse"])
def test_dqn_loss_and_gradients_match_torch(torch, double, loss):
    rng = np.random.default_rng(1)
    q_net, target_net = mlp([4, 32, 32, 3]), mlp([4, 32, 32, 3])
    for p in target_net.parameters():   # make targets large enough that Huber's linear part is used
        p.data *= 3.0
    batch, gamma = _batch(rng), 0.97
    out = dqn_loss(q_net, target_net, batch, gamma, double, loss)
    out.backward()

    tq, tt = _torch_mlp(torch, q_net), _torch_mlp(torch, target_net)
    with torch.no_grad():
        nxt = torch.tensor(batch["next_obs"])
        q_next = tt(nxt)
        a_star = tq(nxt).argmax(1) if double else q_next.argmax(1)
        v = q_next.gather(1, a_star[:, None]).squeeze(1)
        y = torch.tensor(batch["rewards"]) + gamma * (1 - torch.tensor(batch["terminated"])) * v
    q_sa = tq(torch.tensor(batch["obs"])).gather(1, torch.tensor(batch["actions"])[:, None]).squeeze(1)
    ref = torch.nn.functional.smooth_l1_loss(q_sa, y) if loss == "huber" else torch.nn.functional.mse_loss(q_sa, y)
    ref.backward()
    assert out.dtype == np.float32
    assert_close(out, ref, what="loss")
    assert_close(td_targets(q_net, target_net, batch, gamma, double), y, what="targets")
    t_params = [p for p in tq.parameters()]
    for p, tp in zip(q_net.parameters(), t_params):
        assert_close(p.grad, tp.grad, atol=1e-5, what="grad")
    assert all(p.grad is None for p in target_net.parameters())    # no gradient into the target


def test_terminal_transitions_do_not_bootstrap():
    rng = np.random.default_rng(2)
    q_net, target_net = mlp([4, 8, 2]), mlp([4, 8, 2])
    batch = _batch(rng, A=2)
    batch["terminated"][:] = 1.0
    np.testing.assert_allclose(td_targets(q_net, target_net, batch, 0.99), batch["rewards"])


# ---- training loop: seeds, progress ----------------------------------------------------------
def _short_config(**kw):
    return DQNConfig(hidden=(32,), max_steps=400, learning_starts=100, batch_size=16, eval_every=200,
                     eval_episodes=2, confirm_episodes=3, solved_return=None, **kw)


def test_dqn_seeds_reproduce():
    runs = [train_dqn("CartPole-v1", _short_config(), seed=s) for s in (3, 3, 4)]
    (a, la), (b, lb), (c, lc) = runs
    assert la.updates == 300 and la.steps == 400 and len(la.evals) == 2
    assert la.episode_returns == lb.episode_returns
    for k, v in a.q.state_dict().items():
        np.testing.assert_array_equal(v, b.q.state_dict()[k])
    assert la.final_eval["returns"] == lb.final_eval["returns"]
    assert la.episode_returns != lc.episode_returns


def test_double_dqn_trains():
    agent, log = train_dqn("CartPole-v1", _short_config(double=True, tau=1.0, target_update=50), seed=0)
    assert log.stop_reason == "step limit" and log.final_eval["episodes"] == 3


def test_run_episodes_lockstep_is_independent_of_parallelism():
    policy = lambda obs, t: (obs[:, 2] > 0).astype(np.int64)   # noqa: E731 - push toward the pole's lean
    a = run_episodes(policy, "CartPole-v1", 7, seed=5, max_parallel=7)
    b = run_episodes(policy, "CartPole-v1", 7, seed=5, max_parallel=2)
    np.testing.assert_array_equal(a, b)
    assert evaluate(policy, "CartPole-v1", 7, seed=5)["mean"] == pytest.approx(a.mean())


# ---- REINFORCE --------------------------------------------------------------------------------
def test_reinforce_policy_gradient_matches_torch(torch):
    agent = ReinforceAgent(4, 2, ReinforceConfig(hidden=(16,), normalize_advantages=False, lr=0.0, value_lr=0.0))
    rng = np.random.default_rng(0)
    trajs = [{"obs": rng.standard_normal((T, 4)).astype(np.float32), "actions": rng.integers(0, 2, T),
              "rewards": np.ones(T, np.float32)} for T in (5, 3)]
    agent.update(trajs)   # lr 0: gradients are computed, weights stay
    G = np.concatenate([(1 - 0.99 ** np.arange(T, 0, -1)) / (1 - 0.99) for T in (5, 3)])  # sum of T-t gammas
    tp, tv = _torch_mlp(torch, agent.policy_net), _torch_mlp(torch, agent.value_net)
    obs = torch.tensor(np.concatenate([t["obs"] for t in trajs]))
    acts = torch.tensor(np.concatenate([t["actions"] for t in trajs]))
    values = tv(obs).squeeze(1)
    adv = torch.tensor(G, dtype=torch.float32) - values.detach()
    logp = torch.log_softmax(tp(obs), 1).gather(1, acts[:, None]).squeeze(1)
    (-(logp * adv).mean()).backward()
    torch.nn.functional.mse_loss(values, torch.tensor(G, dtype=torch.float32)).backward()
    for p, q in zip(list(agent.policy_net.parameters()) + list(agent.value_net.parameters()),
                    list(tp.parameters()) + list(tv.parameters())):
        assert_close(p.grad, q.grad, atol=1e-4, rtol=1e-4, what="reinforce grad")


def test_reinforce_runs_and_reproduces():
    cfg = ReinforceConfig(hidden=(16,), max_episodes=16, episodes_per_update=8, eval_every=1, eval_episodes=2,
                          confirm_episodes=2, solved_return=None)
    (_, la), (_, lb) = train_reinforce("CartPole-v1", cfg, seed=1), train_reinforce("CartPole-v1", cfg, seed=1)
    assert len(la.episode_returns) == 16 and la.updates == 2
    assert la.episode_returns == lb.episode_returns


# ---- the target: CartPole solved ---------------------------------------------------------------
@pytest.mark.slow
def test_dqn_solves_cartpole_within_15_minutes():
    sg.manual_seed(0)
    agent, log = train_dqn("CartPole-v1", DQNConfig(), seed=0)
    assert log.final_eval["episodes"] == 100
    assert log.final_eval["mean"] >= 475, (log.final_eval["mean"], log.evals)
    assert log.wall_time_s < 900
