"""RL labs: the notes' claims about MDPs, DP, Monte Carlo vs TD and Q-learning vs SARSA, measured.

    from scratchgrad.rl.labs import LABS
    r = LABS["cliff-walking"].run("runs/lab-cliff-walking")   # figure + results.json
    r["claim_holds"]

Each lab has `CLAIM` and `run(out, quick=False, seed=0) -> dict` (the conventions of
`scratchgrad.labs`: the numbers, `figures`, named `checks`, `claim_holds`; also written to
`out/results.json`). `quick=True` is a reduced run for the tests.
"""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import dp, tabular
from .common import make_env, moving_average, run_episodes, table_policy
from .mdp import from_env, random_walk_mdp, simulate_returns

ARROWS = np.array(["<", "v", ">", "^"])  # FrozenLake's actions: 0 left, 1 down, 2 right, 3 up


def _finish(name: str, claim: str, out, quick: bool, seed: int, start: float, numbers: dict) -> dict:
    from ..labs._common import to_jsonable, write_json
    checks = {k: bool(v) for k, v in numbers["checks"].items()}
    results = {"lab": name, "claim": claim, "claim_holds": all(checks.values()), "quick": quick, "seed": seed,
               "wall_time_s": round(time.perf_counter() - start, 3), **numbers, "checks": checks}
    results = to_jsonable(results)
    write_json(Path(out) / "results.json", results)
    return results


def _figure(nrows, ncols, size=(5.0, 3.6)):
    """(fig, flat list of axes), panels of `size` inches."""
    from ..plot import figure
    fig, axes = figure(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows))
    return fig, list(np.atleast_1d(axes))


# ---- cliff walking (Sutton & Barto Example 6.6) ---------------------------------------------
CLIFF_CLAIM = ("cliff walking (epsilon 0.1, alpha 0.5): Q-learning learns the 13-step path along the cliff, "
               "SARSA the safe path (about 17 steps); online return SARSA about -25, Q-learning about -50")


def greedy_path(Q: np.ndarray, mdp, max_len: int = 100) -> list[int]:
    """States visited by the greedy policy from the start (deterministic moves), at most max_len steps."""
    s, path = int(mdp.start.argmax()), []
    path.append(s)
    while not mdp.terminal[s] and len(path) <= max_len:
        s = int(mdp.P[s, int(Q[s].argmax())].argmax())
        path.append(s)
    return path


def cliff_walking(out, quick: bool = False, seed: int = 0) -> dict:
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = make_env("CliffWalking")
    rows, cols = env.unwrapped.shape
    mdp = from_env(env)
    runs, episodes = (20, 300) if quick else (50, 500)
    hp = dict(alpha=0.5, gamma=1.0, epsilon=0.1, runs=runs)
    results = {}
    for k, method in enumerate(("q-learning", "sarsa")):
        Q, stats = tabular.td_control(mdp, method, episodes, seed=seed + k, **hp)
        paths = [greedy_path(q, mdp) for q in Q]
        steps = np.array([len(p) - 1 if mdp.terminal[p[-1]] else -1 for p in paths])  # -1: never arrives
        top_row = np.array([min(p) < cols for p in paths]) & (steps > 0)   # reaches the goal via the top row
        results[method] = {"returns": stats["returns"], "paths": paths, "steps": steps, "top_row": top_row}
    q, s = results["q-learning"], results["sarsa"]
    late = slice(100, None)  # after the first 100 episodes, as the book's curves settle
    ret = {m: float(results[m]["returns"][:, late].mean()) for m in results}
    sarsa_mode = int(np.bincount(s["steps"][s["steps"] > 0]).argmax())

    fig, (ax_grid, ax_curve) = _figure(1, 2, size=(6.0, 3.6))
    grid = np.zeros((rows, cols))
    grid[rows - 1, 1:cols - 1] = 1.0
    ax_grid.imshow(grid, cmap="Greys", vmin=0, vmax=2)
    for method, color, dy in (("q-learning", "tab:red", 0.12), ("sarsa", "tab:blue", -0.12)):
        counts = {}
        for p, n in zip(results[method]["paths"], results[method]["steps"]):
            if n > 0:
                counts[tuple(p)] = counts.get(tuple(p), 0) + 1
        path = np.array(max(counts, key=counts.get))
        share = (results[method]["steps"] == len(path) - 1).mean()
        ax_grid.plot(path % cols, path // cols + dy, "-o", color=color, ms=3,
                     label=f"{method}: {len(path) - 1} steps ({share:.0%} of runs take a path this long)")
    ax_grid.text(cols / 2 - 0.5, rows - 1, "the cliff (-100)", ha="center", va="center", color="w")
    ax_grid.set_title("greedy path after training (most common over runs)")
    ax_grid.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05), fontsize=8)
    ax_grid.set_xticks([])
    ax_grid.set_yticks([])
    for method, color in (("sarsa", "tab:blue"), ("q-learning", "tab:red")):
        ax_curve.plot(moving_average(results[method]["returns"].mean(axis=0), 10), color=color, label=method)
    ax_curve.set_ylim(-100, 0)
    ax_curve.set_xlabel("episode")
    ax_curve.set_ylabel(f"sum of rewards during episode (mean of {runs} runs)")
    ax_curve.set_title("online performance (epsilon-greedy, epsilon 0.1)")
    ax_curve.grid(alpha=0.3)
    ax_curve.legend()
    from ..plot import savefig
    savefig(fig, out / "cliff_walking.png")

    numbers = {
        "runs": runs, "episodes": episodes, **{k: v for k, v in hp.items() if k != "runs"},
        "online_return_after_episode_100": ret,
        "q_learning_path_steps": np.bincount(np.maximum(q["steps"], 0)).nonzero()[0].tolist(),
        "q_learning_fraction_13_steps": float((q["steps"] == 13).mean()),
        "sarsa_most_common_path_steps": sarsa_mode,
        "sarsa_path_steps_per_run": s["steps"],
        "sarsa_fraction_top_row_path": float(s["top_row"].mean()),
        "sarsa_fraction_no_path": float((s["steps"] < 0).mean()),
        "figures": ["cliff_walking.png"],
        "checks": {
            "Q-learning's greedy path is the 13-step one along the cliff (>= 90% of runs)": (q["steps"] == 13).mean() >= 0.9,
            "SARSA's greedy path is the safe one through the top row (>= 60% of runs, most often 17 steps)":
                s["top_row"].mean() >= 0.6 and sarsa_mode == 17,
            "online return: SARSA about -25 (-35..-15), Q-learning about -50 (-60..-40)":
                -35 <= ret["sarsa"] <= -15 and -60 <= ret["q-learning"] <= -40,
        },
    }
    return _finish("cliff-walking", CLIFF_CLAIM, out, quick, seed, start, numbers)


# ---- Monte Carlo vs TD on the random walk (Sutton & Barto Example 6.2) ------------------------
MC_TD_CLAIM = ("prediction on the 5-state random walk: TD(0) reaches a lower RMS error than constant-alpha "
               "Monte Carlo, at the best step size of each, within 100 episodes")


def mc_vs_td(out, quick: bool = False, seed: int = 0) -> dict:
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mdp = random_walk_mdp(5)
    policy = np.ones((mdp.n_states, 1))
    true_v = dp.policy_evaluation_exact(mdp, policy, gamma=1.0)
    inner = slice(1, 6)
    runs, episodes = (30, 100) if quick else (100, 100)
    alphas = {"td": [0.05, 0.1, 0.15], "mc": [0.01, 0.02, 0.03, 0.04]}
    curves = {}
    for method, fn in (("td", tabular.td0_prediction), ("mc", tabular.mc_prediction)):
        for k, alpha in enumerate(alphas[method]):
            _, stats = fn(mdp, policy, episodes, alpha=alpha, runs=runs, seed=seed + 100 * k, V0=0.5)
            err = np.sqrt(((stats["V_history"][:, :, inner] - true_v[inner]) ** 2).mean(axis=2))  # (runs, ep+1)
            curves[f"{method} alpha={alpha}"] = err.mean(axis=0)
    snapshot = tabular.td0_prediction(mdp, policy, 100, alpha=0.1, runs=1, seed=seed, V0=0.5)[1]["V_history"]
    final = {k: float(v[-25:].mean()) for k, v in curves.items()}   # mean RMS over the last 25 episodes
    best = {m: min((v, k) for k, v in final.items() if k.startswith(m)) for m in ("td", "mc")}

    fig, (ax_v, ax_e) = _figure(1, 2)
    x = np.arange(1, 6)
    for n in (0, 1, 10, 100):
        ax_v.plot(x, snapshot[n, inner], "-o", ms=3, label=f"after {n} episodes")
    ax_v.plot(x, true_v[inner], "k--", label="true values i/6")
    ax_v.set_xticks(x, list("ABCDE"))
    ax_v.set_title("TD(0) estimates, alpha 0.1 (one run)")
    ax_v.legend(fontsize=8)
    for k, v in curves.items():
        ax_e.plot(v, "-" if k.startswith("td") else "--", label=k.replace("td", "TD").replace("mc", "MC"))
    ax_e.set_xlabel("episodes")
    ax_e.set_ylabel(f"RMS error over states (mean of {runs} runs)")
    ax_e.set_title("Monte Carlo vs TD(0)")
    ax_e.grid(alpha=0.3)
    ax_e.legend(fontsize=7)
    from ..plot import savefig
    savefig(fig, out / "mc_vs_td.png")

    numbers = {
        "runs": runs, "episodes": episodes, "alphas": alphas, "true_values": true_v[inner],
        "rms_error_last_25_episodes": final, "best_td": best["td"][1], "best_mc": best["mc"][1],
        "rms_curves": curves, "figures": ["mc_vs_td.png"],
        "checks": {
            "DP (solving the Bellman equation) gives V(i) = i/6": np.allclose(true_v[inner], x / 6),
            "TD(0) at its best alpha beats MC at its best alpha": best["td"][0] < best["mc"][0],
            "TD(0) learns: error falls below 0.1": best["td"][0] < 0.1,
        },
    }
    return _finish("mc-vs-td", MC_TD_CLAIM, out, quick, seed, start, numbers)


# ---- policy iteration vs value iteration on FrozenLake ---------------------------------------
PI_VI_CLAIM = ("policy iteration and value iteration find the same optimal policy on slippery FrozenLake 4x4 "
               "and 8x8 (PI in a few iterations, VI in hundreds of sweeps); the best success rate within the "
               "time limit, 0.744 and 0.913, is computed exactly and confirmed by rollouts within 2 points")


def policy_vs_value_iteration(out, quick: bool = False, seed: int = 0) -> dict:
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gamma, episodes, n_sim = 0.9999, (500 if quick else 10_000), (20_000 if quick else 200_000)
    maps, checks = {}, {}
    fig, axes = _figure(2, 2, size=(4.6, 4.2))
    for col, env_id in enumerate(("FrozenLake-v1", "FrozenLake8x8-v1")):
        env = make_env(env_id)
        mdp, horizon = from_env(env), env.spec.max_episode_steps
        s0 = int(mdp.start.argmax())
        pi_v, V_vi, info_vi = dp.value_iteration(mdp, gamma, theta=1e-10)
        pi_p, V_pi, info_pi = dp.policy_iteration(mdp, gamma, theta=1e-10)
        stationary = dp.one_hot_policy(pi_p, mdp.n_actions)
        t_actions, V_t = dp.finite_horizon_value_iteration(mdp, horizon)
        exact = {"time-dependent optimum within the limit": float(V_t[s0]),
                 "stationary gamma-optimal policy within the limit":
                     float(dp.policy_evaluation_horizon(mdp, stationary, horizon)[s0]),
                 "stationary policy without a time limit":
                     float(dp.policy_evaluation_exact(mdp, stationary, 1.0)[s0])}
        policies = {"time-dependent optimum within the limit": table_policy(t_actions),
                    "stationary gamma-optimal policy within the limit": table_policy(pi_p)}
        simulated = {k: float(simulate_returns(mdp, p, n_sim, horizon, seed=seed + i).mean())
                     for i, (k, p) in enumerate(policies.items())}
        rollouts = {k: float(run_episodes(p, env_id, episodes, seed=seed + i * episodes).mean())
                    for i, (k, p) in enumerate(policies.items()) if not quick or i == 0}
        maps[env_id] = {
            "horizon": horizon, "gamma": gamma,
            "value_iteration": {"sweeps": info_vi.sweeps, "wall_time_s": info_vi.wall_time_s},
            "policy_iteration": {"iterations": info_pi.iterations, "evaluation_sweeps": info_pi.sweeps,
                                 "wall_time_s": info_pi.wall_time_s},
            "same_policy": bool(np.array_equal(pi_v, pi_p)),
            "max_value_difference": float(np.abs(V_vi - V_pi).max()),
            "success_exact": exact, "success_rollouts": rollouts, "rollout_episodes": episodes,
            "success_simulated_from_model": simulated, "simulated_episodes": n_sim,
        }
        name = env_id.split("-")[0]
        checks[f"{name}: VI and PI give the same policy"] = np.array_equal(pi_v, pi_p)
        checks[f"{name}: PI needs fewer iterations than VI sweeps"] = info_pi.iterations < info_vi.sweeps
        checks[f"{name}: rollouts in the env within 2 points of the exact success rates"] = all(
            abs(rollouts[k] - exact[k]) <= 0.02 for k in rollouts)
        checks[f"{name}: episodes simulated from the model within 1 point"] = all(
            abs(simulated[k] - exact[k]) <= 0.01 for k in simulated)
        target = {"FrozenLake-v1": 0.744, "FrozenLake8x8-v1": 0.913}[env_id]
        checks[f"{name}: best success within the limit is {target}"] = abs(exact[
            "time-dependent optimum within the limit"] - target) < 0.001

        n = int(np.sqrt(mdp.n_states))
        desc = np.array(env.unwrapped.desc, dtype="U1")
        ax = axes[col]
        ax.imshow(V_pi.reshape(n, n), cmap="viridis", vmin=0, vmax=1)
        for s in range(mdp.n_states):
            r, c = divmod(s, n)
            label = desc[r, c] if desc[r, c] in "HG" else ARROWS[pi_p[s]]
            ax.text(c, r, label, ha="center", va="center", color="w" if V_pi[s] < 0.6 else "k", fontsize=9)
        ax.set_title(f"{env_id}: optimal policy, V (gamma {gamma})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax = axes[2 + col]
        ax.semilogy(info_vi.deltas, label=f"value iteration: {info_vi.sweeps} sweeps, {info_vi.wall_time_s * 1e3:.0f} ms")
        ax.axhline(1e-10, color="gray", lw=0.5)
        ax.set_xlabel("sweep")
        ax.set_ylabel("max |V_new - V|")
        ax.set_title(f"PI: {info_pi.iterations} iterations ({info_pi.sweeps} evaluation sweeps, "
                     f"{info_pi.wall_time_s * 1e3:.0f} ms)", fontsize=8)
        ax.legend(fontsize=7)
        env.close()
    from ..plot import savefig
    savefig(fig, out / "policy_vs_value_iteration.png")
    numbers = {"maps": maps, "figures": ["policy_vs_value_iteration.png"], "checks": checks,
               "note": ("0.744 / 0.913 are the best success probabilities within gymnasium's time limit (100 / 200 "
                        "steps), reached by a policy that depends on the steps left (backward induction). The "
                        "stationary optimal policy for gamma -> 1 succeeds with 0.824 / 1.000 given unlimited time, "
                        "and 0.740 / 0.886 within the limit.")}
    return _finish("policy-vs-value-iteration", PI_VI_CLAIM, out, quick, seed, start, numbers)


LABS = {
    "cliff-walking": SimpleNamespace(CLAIM=CLIFF_CLAIM, run=cliff_walking),
    "mc-vs-td": SimpleNamespace(CLAIM=MC_TD_CLAIM, run=mc_vs_td),
    "policy-vs-value-iteration": SimpleNamespace(CLAIM=PI_VI_CLAIM, run=policy_vs_value_iteration),
}
