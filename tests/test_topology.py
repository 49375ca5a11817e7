"""Wiring (topology.py) and the order of a step (schedule.py), checked without building a network."""

import pytest

from brian_segdend import ModelConfig, schedule, topology
from brian_segdend.equations import PHASE_EVENTS

pytestmark = pytest.mark.codegen_independent

REF_S = ModelConfig(n_inputs=12, n_hidden=(7, 5))
CHAIN = REF_S.replace(broadcast=False)


def test_roles_names_and_feedforward_path():
    assert [topology.role(REF_S, l) for l in range(4)] == ["input", "hidden", "hidden", "output"]
    assert [topology.layer_name(REF_S, l) for l in range(4)] == ["input", "hidden1", "hidden2", "output"]
    assert [topology.feeds_forward(REF_S, l) for l in range(4)] == [True, True, True, False]
    with pytest.raises(IndexError, match="layer 4 does not exist; this network has layers 0..3"):
        topology.role(REF_S, 4)


def test_feedback_comes_from_the_output_or_the_next_layer():
    """Spec §1: Y_l is n_l x n_{L+1} with broadcast, n_l x n_{l+1} without."""
    assert [topology.feedback_source(REF_S, l) for l in (1, 2)] == [3, 3]
    assert [topology.feedback_source(CHAIN, l) for l in (1, 2)] == [2, 3]
    assert topology.feedback_targets(REF_S, 3) == [1, 2] and topology.feedback_targets(REF_S, 2) == []
    assert topology.feedback_targets(CHAIN, 3) == [2] and topology.feedback_targets(CHAIN, 2) == [1]
    with pytest.raises(ValueError, match="layer 3 is not a hidden layer"):
        topology.feedback_source(REF_S, 3)


def test_spiking_sources_and_the_past_counts_they_keep():
    """A source keeps N_mem - 1 past counts for p-bar, N_mem for the one-step-late q-bar (spec §2, §4)."""
    assert [topology.spiking_source(REF_S, l) for l in range(4)] == [True, True, True, True]
    assert [topology.spike_lags(REF_S, l) for l in range(4)] == [9, 9, 9, 9]
    learning = REF_S.replace(update_feedback_weights=True, feedback_learning_rates=(0.1,))
    assert [topology.spike_lags(learning, l) for l in range(4)] == [9, 9, 9, 10]
    rates = REF_S.replace(spiking_feedforward=False, spiking_feedback=False)
    assert [topology.spiking_source(rates, l) for l in range(4)] == [False] * 4
    assert topology.spike_lags(REF_S.replace(kernel="untruncated"), 1) == 0  # traces instead
    assert topology.memory_length(REF_S) == 10 and topology.memory_length(REF_S.replace(kernel="untruncated")) == 2


def test_corrections_of_spikes_in_memory_follow_the_rank_one_updates():
    """Spec §10.3: basal memories after W updates, apical ones after learned Y or symmetric W updates;
    not where the update is not rank one (sparse symmetric, REF's x5 regrowth)."""
    assert [topology.collectors(REF_S, l) for l in range(4)] == [[], ["s_ff"], ["s_ff"], ["s_ff"]]
    learning = CHAIN.replace(update_feedback_weights=True, feedback_learning_rates=(0.1,))
    assert topology.collectors(learning, 1) == ["s_ff", "s_fb"]
    assert [topology.correction_source(learning, 1, n) for n in ("s_ff", "s_fb")] == [0, 2]
    symmetric = CHAIN.replace(symmetric_weights=True)
    assert [topology.collectors(symmetric, l) for l in (1, 2)] == [["s_ff", "s_sym"], ["s_ff", "s_sym"]]
    assert topology.correction_source(symmetric, 1, "s_sym") == 2
    assert [topology.carries_symmetric_feedback(symmetric, l) for l in (1, 2, 3)] == [False, True, True]
    assert topology.collectors(symmetric.replace(sparse_feedback=True), 1) == ["s_ff"]
    regrowth = learning.replace(sparse_feedback=True, sparse_feedback_rescale_each_example=True)
    assert topology.collectors(regrowth, 1) == ["s_ff"]
    rates = REF_S.replace(spiking_feedforward=False, spiking_feedback=False)
    assert [topology.collectors(rates, l) for l in range(4)] == [[]] * 4


def test_a_spiking_source_with_learned_rate_feedback_keeps_its_previous_rate():
    """q-bar of learned rate feedback reads the source's rate one step late, also when the source's
    spikes feed forward through the untruncated kernel (which keeps p one step late too)."""
    cfg = CHAIN.replace(
        kernel="untruncated", spiking_feedback=False, update_feedback_weights=True, feedback_learning_rates=(0.1,)
    )
    assert topology.keeps_previous(cfg, 2) == ["p_prev", "r_prev"]
    assert topology.keeps_previous(cfg, 3) == ["r_prev"]  # the output feeds nothing forward
    assert topology.keeps_previous(REF_S, 1) == []


def test_the_layer_sweep_runs_layer_by_layer_with_one_step_late_feedback():
    """Spec §3: within a step each layer finishes before the next starts; a layer's spikes reach the
    feedback memory of the layers below only after they have read it (one-step lag)."""
    steps = ["rate_feedback", "prepare", "shift", "feedforward", "soma", "draw", "spikes", "counts", "feedback"]
    sweep = [(l, step) for l in range(4) for step in steps]
    orders = [schedule.at(step, l)["order"] for l, step in sweep]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert all(schedule.at(step, l)["when"] == "groups" for l, step in sweep)
    assert schedule.at("feedback", 3)["order"] > schedule.at("prepare", 1)["order"]


def test_slots_never_tie_and_every_event_has_one():
    when = ["start", "end"]
    slots = sorted(schedule.SLOTS.values(), key=lambda s: (when.index(s[0]), s[1]))
    assert slots == list(schedule.SLOTS.values())  # listed in the order they run
    assert len(set(slots)) == len(slots)
    assert set(schedule.EVENT_SLOTS) == set(PHASE_EVENTS)
    ends = ["windows", "errors", "collect", "update", "weights", "window_reset", "advance"]
    assert [schedule.at(s)["order"] for s in ends] == sorted(schedule.at(s)["order"] for s in ends)
    with pytest.raises(KeyError, match="no slot named 'lunch'"):
        schedule.at("lunch")
    with pytest.raises(ValueError, match="give the layer index"):
        schedule.at("soma")
