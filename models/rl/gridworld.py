"""A small gridworld MDP, solved two ways: value iteration (the model is known) and tabular
Q-learning (only samples of it are seen).

The MDP of the lecture, written out in full: states are the free cells of a grid, actions move
up, right, down or left, a move into a wall or off the grid stays put, and with probability
``slip`` the agent slides to one of the two perpendicular directions instead. Entering a goal
cell pays its reward and ends the episode; every other step pays ``step_reward``. Because the
whole model fits in two arrays, ``P[s, a, s']`` and ``R[s, a]``, the Bellman optimality
equation can be iterated exactly:

    Q(s, a) = R(s, a) + gamma * sum_s' P(s, a, s') V(s')        V(s) = max_a Q(s, a)

Q-learning replaces the sum over ``s'`` by the one next state that a step actually gave:

    Q(s, a) <- Q(s, a) + alpha * (r + gamma * max_a' Q(s', a') - Q(s, a))

and, visiting every pair often enough with a decaying step size, reaches the same ``Q``.

Notation
--------
S       number of states (free cells, terminals included)
A       number of actions (4: up, right, down, left)
"""
import numpy as np

ACTIONS = ("up", "right", "down", "left")
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))

# The classic 4x3 world of the textbooks: a wall in the middle, +1 and -1 exits on the right.
DEFAULT_LAYOUT = ("...G",
                  ".#.X",
                  "S...")


class GridWorld:
    """A gridworld read from strings: '.' free, '#' wall, 'S' start, 'G' goal (+1), 'X' pit (-1).

    Parameters
    ----------
    layout : sequence of str, default :data:`DEFAULT_LAYOUT`
        One string per row, all of the same length.
    step_reward : float, default -0.04
        Paid on every move that does not enter a terminal cell.
    slip : float, default 0.2
        Probability of sliding to a perpendicular direction (split evenly between the two).
    goal_reward, pit_reward : float, default 1.0 and -1.0
        Paid on entering a 'G' or an 'X' cell; the episode then ends.

    Attributes
    ----------
    P : ndarray, shape (S, A, S)
        Transition probabilities; rows of terminal states are all zero (nothing follows).
    R : ndarray, shape (S, A)
        Expected reward of taking ``a`` in ``s``.
    entry_reward : ndarray, shape (S,)
        The reward for entering each state.
    terminal : ndarray of bool, shape (S,)
    cells : list of (row, col)
        The cell of each state index.
    """

    def __init__(self, layout=DEFAULT_LAYOUT, step_reward=-0.04, slip=0.2, goal_reward=1.0,
                 pit_reward=-1.0):
        rows = [str(row) for row in layout]
        if not rows or len({len(row) for row in rows}) != 1:
            raise ValueError(f"GridWorld: layout must be rows of one length, got {rows!r}")
        unknown = set("".join(rows)) - set(".#SGX")
        if unknown:
            raise ValueError(f"GridWorld: unknown cell characters {sorted(unknown)}; "
                             "expected '.', '#', 'S', 'G' or 'X'")
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"GridWorld: slip must lie in [0, 1], got {slip}")
        if "S" not in "".join(rows):
            raise ValueError("GridWorld: the layout needs one start cell 'S'")
        self.layout = rows
        self.shape = (len(rows), len(rows[0]))
        self.cells = [(i, j) for i, row in enumerate(rows) for j, c in enumerate(row) if c != "#"]
        self.index = {cell: s for s, cell in enumerate(self.cells)}
        self.start = next(self.index[(i, j)] for i, j in self.cells if rows[i][j] == "S")
        payoff = {"G": goal_reward, "X": pit_reward}
        self.terminal = np.array([rows[i][j] in payoff for i, j in self.cells])
        # The reward depends only on the cell entered, so one number per state says it all.
        self.entry_reward = np.array([payoff.get(rows[i][j], step_reward) for i, j in self.cells])
        S, A = len(self.cells), len(ACTIONS)
        self.P = np.zeros((S, A, S))
        self.R = np.zeros((S, A))
        for s, cell in enumerate(self.cells):
            if self.terminal[s]:
                continue
            for a in range(A):
                for direction, prob in self._outcomes(a, slip):
                    s_next = self._move(cell, direction)
                    self.P[s, a, s_next] += prob
                    self.R[s, a] += prob * self.entry_reward[s_next]
        self._rng = np.random.default_rng()
        self.state = self.start

    @staticmethod
    def _outcomes(a, slip):
        """(direction, probability) pairs: the intended move, or one of its two neighbours."""
        return [(a, 1.0 - slip), ((a + 1) % 4, slip / 2), ((a + 3) % 4, slip / 2)]

    def _move(self, cell, direction):
        """The state reached from ``cell`` moving in ``direction``; walls and edges block."""
        i, j = cell[0] + MOVES[direction][0], cell[1] + MOVES[direction][1]
        return self.index.get((i, j), self.index[cell])

    @property
    def n_states(self):
        return self.P.shape[0]

    @property
    def n_actions(self):
        return self.P.shape[1]

    def seed(self, seed):
        """Seed the sampler that :meth:`step` draws next states with."""
        self._rng = np.random.default_rng(seed)

    def reset(self, state=None):
        """Put the agent on the start cell, or on ``state`` when given; returns the state."""
        state = self.start if state is None else int(state)
        if not 0 <= state < self.n_states or self.terminal[state]:
            raise ValueError(f"GridWorld.reset: state must be a non-terminal index in "
                             f"[0, {self.n_states}), got {state}")
        self.state = state
        return self.state

    def step(self, action):
        """Take ``action``; returns ``(next_state, reward, done)``, sampled from ``P``."""
        s = self.state
        if self.terminal[s]:
            raise RuntimeError("GridWorld.step: the episode has ended; call reset() first")
        if not 0 <= action < self.n_actions:
            raise ValueError(f"GridWorld.step: action must lie in [0, {self.n_actions}), "
                             f"got {action}")
        s_next = int(self._rng.choice(self.n_states, p=self.P[s, action]))
        self.state = s_next
        return s_next, float(self.entry_reward[s_next]), bool(self.terminal[s_next])

    def to_grid(self, values):
        """Lay per-state ``values`` (S,) out on the grid (H, W), NaN on walls."""
        grid = np.full(self.shape, np.nan)
        for s, (i, j) in enumerate(self.cells):
            grid[i, j] = values[s]
        return grid


def value_iteration(P, R, gamma=0.9, tol=1e-8, max_iterations=10_000):
    """Iterate the Bellman optimality backup until the values stop changing.

    ``V_{k+1}(s) = max_a [R(s, a) + gamma * sum_s' P(s, a, s') V_k(s')]``; the backup is a
    ``gamma``-contraction in the max norm, so the error shrinks by ``gamma`` per sweep.

    Parameters
    ----------
    P : ndarray, shape (S, A, S)
        Transition probabilities (all-zero rows for terminal states).
    R : ndarray, shape (S, A)
        Expected immediate reward.
    gamma : float, default 0.9
        Discount factor in [0, 1).
    tol : float, default 1e-8
        Stop when the largest change of V in one sweep falls below this.
    max_iterations : int, default 10000

    Returns
    -------
    V : ndarray, shape (S,)
    Q : ndarray, shape (S, A)
    deltas : list of float
        The largest change of V at each sweep (falls like ``gamma ** k``).
    """
    P, R = np.asarray(P, dtype=np.float64), np.asarray(R, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != P.shape[2] or R.shape != P.shape[:2]:
        raise ValueError(f"value_iteration: expected P (S, A, S) and R (S, A), got P "
                         f"{P.shape} and R {R.shape}")
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"value_iteration: gamma must lie in [0, 1), got {gamma}")
    V = np.zeros(P.shape[0])
    deltas = []
    for _ in range(max_iterations):
        Q = R + gamma * P @ V
        V_new = Q.max(axis=1)
        deltas.append(float(np.abs(V_new - V).max()))
        V = V_new
        if deltas[-1] < tol:
            break
    return (V, R + gamma * P @ V, deltas)


def greedy_policy(Q):
    """The action of largest value in each state, shape (S,)."""
    return np.asarray(Q).argmax(axis=1)


def q_learning(env, episodes=500, alpha=0.5, gamma=0.9, epsilon=0.2, max_steps=100,
               exploring_starts=True, seed=0, reference_V=None):
    """Tabular Q-learning with an epsilon-greedy behaviour policy.

    Each step applies ``Q(s, a) += alpha_sa * (r + gamma * max_a' Q(s', a') * (1 - done)
    - Q(s, a))`` with a per-pair step size ``alpha_sa = alpha / n(s, a) ** 0.6`` that decays with
    the pair's visit count ``n``: large enough early to learn fast, and shrinking as the
    stochastic-approximation conditions ask (sum of steps infinite, sum of squares finite).

    Parameters
    ----------
    env : GridWorld
        Anything with ``reset()``, ``step(a) -> (s', r, done)``, ``n_states``, ``n_actions``.
    episodes : int, default 500
    alpha : float, default 0.5
        Initial step size.
    gamma : float, default 0.9
    epsilon : float, default 0.2
        Probability of a uniformly random action (exploration); ties in Q break at random too.
    max_steps : int, default 100
        Cap on an episode's length.
    exploring_starts : bool, default True
        Start each episode in a random non-terminal state, so that cells the greedy path never
        crosses are still visited (the convergence theorem asks that every pair be tried
        infinitely often); False starts at 'S' every time.
    seed : int, default 0
        Seeds the behaviour policy and the environment.
    reference_V : ndarray, shape (S,), optional
        When given, the error ``max_s |max_a Q(s, a) - V*(s)|`` is recorded after each episode.

    Returns
    -------
    Q : ndarray, shape (S, A)
    history : dict
        ``returns`` per episode, and ``error`` per episode when ``reference_V`` was given.
    """
    if episodes < 1 or max_steps < 1:
        raise ValueError(f"q_learning: episodes and max_steps must be at least 1, got "
                         f"{episodes} and {max_steps}")
    rng = np.random.default_rng(seed)
    env.seed(seed)
    Q = np.zeros((env.n_states, env.n_actions))
    visits = np.zeros_like(Q)
    history = {"returns": [], "error": []}
    starts = np.flatnonzero(~env.terminal)
    for _ in range(episodes):
        s = env.reset(rng.choice(starts) if exploring_starts else None)
        total = 0.0
        for _ in range(max_steps):
            if rng.random() < epsilon:
                a = int(rng.integers(env.n_actions))
            else:
                best = np.flatnonzero(Q[s] == Q[s].max())
                a = int(rng.choice(best))
            s_next, r, done = env.step(a)
            visits[s, a] += 1
            target = r + (0.0 if done else gamma * Q[s_next].max())
            Q[s, a] += alpha / visits[s, a] ** 0.6 * (target - Q[s, a])
            s, total = s_next, total + r
            if done:
                break
        history["returns"].append(total)
        if reference_V is not None:
            history["error"].append(float(np.abs(_state_values(env, Q) - reference_V).max()))
    return (Q, history)


def _state_values(env, Q):
    """max_a Q(s, a), with terminal states at 0 (nothing follows them)."""
    return np.where(env.terminal, 0.0, Q.max(axis=1))


def plot_values(ax, env, V, title="V(s)"):
    """Draw ``V`` (S,) as a heat map on ``ax`` with each value written in its cell."""
    grid = env.to_grid(V)
    image = ax.imshow(grid, cmap="viridis")
    for s, (i, j) in enumerate(env.cells):
        ax.text(j, i, f"{V[s]:.2f}", ha="center", va="center", color="white", fontsize=8)
    for i, row in enumerate(env.layout):
        for j, c in enumerate(row):
            if c == "#":
                ax.add_patch(_wall_patch(i, j))
    ax.set(title=title, xticks=[], yticks=[])
    return image


def plot_policy(ax, env, policy, title="greedy policy"):
    """Draw the action of each non-terminal state (S,) as an arrow, goals and pits as letters."""
    ax.imshow(np.zeros(env.shape), cmap="Greys", vmin=0, vmax=1)
    for s, (i, j) in enumerate(env.cells):
        if env.terminal[s]:
            ax.text(j, i, env.layout[i][j], ha="center", va="center", fontsize=12,
                    color="green" if env.entry_reward[s] > 0 else "red")
            continue
        di, dj = MOVES[int(policy[s])]
        ax.arrow(j - 0.25 * dj, i - 0.25 * di, 0.3 * dj, 0.3 * di, head_width=0.15,
                 length_includes_head=False, color="black")
    for i, row in enumerate(env.layout):
        for j, c in enumerate(row):
            if c == "#":
                ax.add_patch(_wall_patch(i, j))
    ax.set(title=title, xticks=[], yticks=[])


def _wall_patch(i, j):
    from matplotlib.patches import Rectangle
    return Rectangle((j - 0.5, i - 0.5), 1, 1, color="dimgray")
