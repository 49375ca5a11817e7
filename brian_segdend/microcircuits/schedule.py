"""Per-step code and its order inside a step, for the two dynamics (spec §5.1, §5.2, §8).

Both functions take a built :class:`~brian_segdend.microcircuits.network.MicrocircuitNetwork`, add
the ``run_regularly`` / ``run_on_event`` code of every group and set the ``when`` / ``order`` of every
operation explicitly (ties between objects would be broken by name, so none are left).
"""

from __future__ import annotations

from . import equations as eq

__all__ = ["schedule_continuous", "schedule_sweep"]


def _set(obj, when, order):
    obj.when, obj.order = when, order


def schedule_continuous(net):
    """Euler steps in the order of spec §5.1: filter, rates, dendrites, plasticity, somata."""
    _set(net.input.pyramidal.state_updater, "groups", 0)  # 1. input filter, used in this step
    for layer in net.layers[1:]:
        for group in (layer.pyramidal, layer.interneurons):
            if group is None:
                continue
            group.run_regularly("r = phi(u)", when="groups", order=1, name=f"{group.name}_rate")  # 2.
            dendrite = "v_D" if group is layer.interneurons else "v_B"
            summed = "v_ip" if group is layer.interneurons else "v_ff"
            # dendritic potential of this step, brackets of Eqs. 7, 8 (alpha: delta_I for interneurons)
            code = [f"{dendrite} = {summed} + b", f"err = r - phi(alpha*{dendrite})"]
            if "err_td" in group.variables:
                code.append("err_td = r - phi(v_td)")  # Eq. 10
            group.run_regularly("\n".join(code), when="groups", order=3, name=f"{group.name}_brackets")
            # 4. somata after everything else; interneurons read u_up of the layer above before it moves
            _set(group.state_updater, "after_groups", 0 if group is layer.interneurons else 1)
    for _, _, syn in net.matrices():
        for updater in syn.summed_updaters.values():
            _set(updater, "groups", 2)  # 2. dendritic sums of the step-start rates
        if "Delta" in syn.variables:
            _set(syn.state_updater, "groups", 4)  # 3. W += dt eta Delta(old), Delta += dt/tau_w (E - Delta)


def schedule_sweep(net):
    """One image per step: forward pass, backward pass with the ring writes, minibatch update (spec §5.2)."""
    cfg, N = net.config, net.N
    code = {group: [] for layer in net.layers for group in layer if group in (layer.pyramidal, layer.interneurons)}
    literal = "g_B/(g_lk + g_B)*v_B" if cfg.sweep_literal else "alpha*v_B"
    for k in range(1, N + 1):  # forward, k = 1..N
        layer = net.layers[k]
        _set(layer.ff.summed_updaters["v_ff_post"], "groups", 10 * k + 1)
        u_ff = literal if k < N else "alpha*v_B"
        layer.pyramidal.run_regularly(
            f"v_B = v_ff + b\nu_ff = {u_ff}\nr_ff = phi(u_ff)",
            when="groups",
            order=10 * k + 2,
            name=f"{layer.name}_forward",
        )
        if k < N:
            _set(layer.ip.summed_updaters["v_ip_post"], "groups", 10 * k + 3)
            layer.interneurons.run_regularly(
                "v_D = v_ip + b\nu_ff = alpha*v_D\nr_ff = phi(u_ff)",
                when="groups",
                order=10 * k + 4,
                name=f"{layer.name}_interneurons_forward",
            )
    backward = 10 * (N + 1)
    soma = "u = (1 - lam)*u_ff + lam*v_A" if cfg.sweep_literal else "u = u_ff + lam*v_A"
    steps = [(net.input.pyramidal, "r_ff = patterns(example*dt, i)", "input", 0)]
    steps.append((net.output.pyramidal, "u = u_ff + nudge*lam*(u_trgt - u_ff)\nr = phi(u)", "output", backward))
    for k in range(N - 1, 0, -1):  # backward, k = N-1..1
        layer, base = net.layers[k], backward + 10 * (N - k)
        steps.append((layer.interneurons, "u = u_ff + lam*(u_up - u_ff)\nr = phi(u)", "interneuron", base + 1))
        _set(layer.td.summed_updaters["v_td_post"], "groups", base + 2)
        _set(layer.pi.summed_updaters["v_pi_post"], "groups", base + 2)
        steps.append((layer.pyramidal, f"{soma}\nr = phi(u)", "hidden", base + 3))
    for group, body, kind, order in steps:
        scalars, learning = _learning_code(cfg, group, kind)
        code = "\n".join(scalars + [body] + learning)
        group.run_regularly(code, when="groups", order=order, name=f"{group.name}_pass")
        if "apply" in group.thresholder:
            _set(group.thresholder["apply"], "groups", backward + 10 * N)
    for _, _, syn in net.matrices():
        if hasattr(syn, "apply"):  # the minibatch update of a learning matrix, after every ring is written
            _set(syn.apply, "groups", backward + 10 * N + 1)


#: what each sweep ring stores, per group kind (spec §5.2: E = error (post) x rate (pre))
RING_VALUES = {
    "hidden": {"e": "r - r_ff", "q_ff": "r_ff", "q": "r", "e_td": "r - phi(v_td)", "e_pi": "-v_A"},
    "output": {"e": "r - r_ff", "q": "r"},
    "interneuron": {"e": "r - r_ff", "q": "r"},
    "input": {"q_ff": "r_ff"},
}


def _learning_code(cfg, group, kind):
    """(scalar lines, lines after a group's pass): while learning, store this image's values in ring slot ``batch_pos``;
    at the end of a minibatch add eta times the mean error to the bias.

    Slots are chosen by multiplying with 0/1 (``s*new + (1 - s)*old``), which is exact, so no event
    and no branch is needed; the weights' minibatch update runs on the ``apply`` event of the
    presynaptic group (:func:`schedule_sweep`)."""
    values = dict(RING_VALUES[kind])
    if kind == "hidden" and cfg.sweep_literal:
        values["e"] = "r - phi(alpha*v_B)"  # spec §9.6: the bracket against the attenuated basal input
    rings = [prefix for prefix in values if f"{prefix}_0" in group.variables]
    if not rings:
        return [], []
    scalars = [f"slot_{j} = plastic*int(batch_pos == {j})" for j in range(cfg.minibatch)]  # Brian: scalars first
    lines = [f"{p}_{j} = slot_{j}*({values[p]}) + (1 - slot_{j})*{p}_{j}" for j in range(cfg.minibatch) for p in rings]
    if cfg.biases and "e_0" in group.variables:
        eta = "eta_ip" if kind == "interneuron" else "eta_ff"
        scalars.append("batch_end = plastic*int(batch_pos == minibatch - 1)")
        lines.append(f"b = b + batch_end*{eq.bias_apply_code(cfg, 'e', eta)}")
    return scalars, lines
