"""PyTorch baselines for the segregated-dendrites reproduction (Lange 2018).

Kinds (``KINDS``):

* ``"bp-mlp"`` -- MLP trained by backpropagation,
* ``"bp-cnn"`` -- CNN trained by backpropagation,
* ``"fa"`` -- feedback alignment (Lillicrap et al. 2016),
* ``"dfa"`` -- direct feedback alignment (Nøkland 2016),
* ``"tp"`` -- target propagation (Lee et al. 2015, vanilla),
* ``"dtp"`` -- difference target propagation (Lee et al. 2015),
* ``"sdtp"`` -- simplified difference target propagation (Bartunov et al. 2018).

Layout (Norse style): :mod:`.params` holds the frozen parameter records and ``DEFAULTS``,
:mod:`.rules` the learning rules as pure functions / ``autograd.Function``s,
:mod:`.mlp` and :mod:`.cnn` thin ``nn.Module``s, :mod:`.train` the training driver.

Examples
--------
>>> from brian_segdend import baselines
>>> metrics = baselines.train("bp-mlp", {"hidden": [100]}, "mnist", epochs=1, seed=0,
...                           out_dir="runs/demo", max_train_examples=2000)   # doctest: +SKIP
>>> metrics["test_error"]                                                       # doctest: +SKIP
"""

from .params import (
    ACTIVATIONS,
    AUGMENTATIONS,
    DEFAULTS,
    KINDS,
    OPTIMIZERS,
    PARAMS_CLASS,
    CNNParams,
    MLPParams,
    TargetPropParams,
    conv_output_sizes,
    load_preset,
    make_params,
    models_dir,
)
from .train import CHECKPOINT_NAME, build_model, evaluate, load_checkpoint, save_checkpoint, train

__all__ = [
    "ACTIVATIONS",
    "AUGMENTATIONS",
    "OPTIMIZERS",
    "DEFAULTS",
    "KINDS",
    "PARAMS_CLASS",
    "CNNParams",
    "MLPParams",
    "TargetPropParams",
    "conv_output_sizes",
    "make_params",
    "load_preset",
    "models_dir",
    "build_model",
    "train",
    "evaluate",
    "save_checkpoint",
    "load_checkpoint",
    "CHECKPOINT_NAME",
]
