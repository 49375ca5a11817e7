"""A second model kind for the tests: a linear classifier trained by the delta rule, run by Brian.

It implements :class:`brian_segdend.model.Model` with as few objects as possible (a controller, an
input group, the weights, an output group and a read-out), so that the tests can check that the
simulator, the training loop, the result files and the checkpoints serve any kind of model.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
from brian2 import Clock, EventMonitor, Network, NeuronGroup, Synapses, TimedArray, linked_var, ms

from brian_segdend.model import Stimulus
from brian_segdend.simulator import stop_run

CLOCK = """
example : integer (linked)
step : integer (linked)
plastic : integer (linked)
steps_per_example : integer (linked)
"""
LAST_STEP = "step == steps_per_example - 1"


@dataclasses.dataclass(frozen=True)
class DeltaConfig:
    kind: ClassVar[str] = "delta"

    n_inputs: int = 16
    steps_per_example: int = 2
    eta: float = 0.1

    @property
    def n_outputs(self) -> int:
        return 10

    @classmethod
    def from_dict(cls, values):
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> DeltaConfig:
        return dataclasses.replace(self, **changes)


class DeltaModel:
    """``y = W x`` every step; at the last step of a training example ``W += eta (onehot - y) x^T``."""

    kind = "delta"

    def __init__(self, config: DeltaConfig, weights=None, seed=None, capacity=100):
        self.config, self.capacity = config, int(capacity)
        self.max_duration = self.capacity * config.steps_per_example * ms
        clock = Clock(dt=1 * ms, name="delta_clock*")  # one step per ms: the tables have one row per step
        W = weights["W"] if weights is not None else np.random.default_rng(seed).normal(0, 0.1, (10, config.n_inputs))
        self.images = TimedArray(np.zeros((capacity, config.n_inputs)), dt=1 * ms, name="delta_images")
        self.labels = TimedArray(np.zeros(capacity), dt=1 * ms, name="delta_labels")
        namespace = {"images": self.images, "labels": self.labels, "stop_run": stop_run}
        ctrl = NeuronGroup(
            1,
            "example : integer (shared)\nstep : integer (shared)\nn_examples : integer (shared, constant)\n"
            "plastic : integer (shared, constant)\nsteps_per_example : integer (shared, constant)\nstopped : 1",
            events={"done": "example >= n_examples"},
            clock=clock,
            namespace=namespace,
            name="delta_controller",
        )
        ctrl.steps_per_example = config.steps_per_example
        advance = "step += 1\nexample += int(step >= steps_per_example)\nstep = step*int(step < steps_per_example)"
        ctrl.run_regularly(advance, when="end", order=90)
        ctrl.thresholder["done"].when, ctrl.thresholder["done"].order = "end", 95
        ctrl.run_on_event("done", "stopped = stop_run(stopped)", when="end", order=96)
        inputs = NeuronGroup(
            config.n_inputs,
            CLOCK + "x = images(example*dt, i) : 1",
            events={"learn": "plastic == 1 and " + LAST_STEP},
            clock=clock,
            namespace=namespace,
            name="delta_inputs",
        )
        outputs = NeuronGroup(
            10,
            CLOCK + "y : 1\ntarget = int(i == int(labels(example*dt) + 0.5)) : 1\neta : 1 (shared, constant)",
            events={"example_end": LAST_STEP},
            clock=clock,
            namespace=namespace,
            name="delta_outputs",
        )
        for group in (inputs, outputs):
            for var in ("example", "step", "plastic", "steps_per_example"):
                setattr(group, var, linked_var(ctrl, var))
        outputs.eta = config.eta
        self.synapses = Synapses(
            inputs,
            outputs,
            "w : 1\ny_post = w*x_pre : 1 (summed)",
            on_pre={"learn": "w += eta_post*(target_post - y_post)*x_pre"},
            on_event={"learn": "learn"},
            clock=clock,
            namespace=namespace,
            name="delta_w",
        )
        self.synapses.connect()  # synapse i*10 + j joins input i and output j
        self.synapses.summed_updaters["y_post"].when = "groups"
        self.synapses.learn.when, self.synapses.learn.order = "end", 30
        self.initial_w = np.asarray(W, float).T.ravel().copy()
        self.synapses.w = self.initial_w
        self.monitor = EventMonitor(outputs, "example_end", variables=["y"], when="end", order=15, name="delta_readout")
        self.controller = ctrl
        self.brian_network = Network(ctrl, inputs, outputs, self.synapses, self.monitor)

    def draw_settings(self, n, rng, epoch=0):
        return {}

    def example_settings(self, n, learn, **settings):
        if settings:
            raise ValueError(f"the delta model has no per-example settings, got {sorted(settings)}")
        return {}

    def stimulus(self, images, labels, learn, record=False):
        n = len(images)
        tables = {self.images: np.zeros(self.images.values.shape), self.labels: np.zeros(self.capacity)}
        tables[self.images][:n], tables[self.labels][:n] = images, labels
        variables = {(self.controller, "n_examples"): n, (self.controller, "plastic"): int(learn)}
        return Stimulus(tables, variables, n * self.config.steps_per_example)

    def load(self, stimulus):
        stimulus.write()
        self.controller.example = self.controller.step = 0

    def state_variables(self, weights=True):
        return {self.synapses: ["w"]} if weights else {}

    def initial_value(self, obj, name):
        return self.initial_w.copy()

    def readout(self, learn):
        return self.monitor, "y"

    def predict(self, outputs):
        return np.asarray(outputs).argmax(axis=1)

    def read_weights(self, value):
        return {"W": value(self.synapses, "w").reshape(self.config.n_inputs, 10).T.copy()}

    def write_weights(self, weights, assign):
        W = np.asarray(weights["W"], float)
        if W.shape != (10, self.config.n_inputs):
            raise ValueError(f"weights['W'] has shape {W.shape}; expected (10, {self.config.n_inputs})")
        assign(self.synapses, "w", W.T.ravel())

    def diagnostics(self, weights):
        return {"weight_norm": float(np.linalg.norm(weights["W"]))}
