"""PyTorch baselines for the segregated-dendrites reproduction (Lange 2018).

Kinds (``KINDS``):

* ``"bp-mlp"`` -- MLP trained by backpropagation,
* ``"bp-cnn"`` -- CNN trained by backpropagation,
* ``"fa"`` -- feedback alignment (Lillicrap et al. 2016),
* ``"dfa"`` -- direct feedback alignment (Nøkland 2016),
* ``"tp"`` -- target propagation (Lee et al. 2015, vanilla),
* ``"dtp"`` -- difference target propagation (Lee et al. 2015),
* ``"sdtp"`` -- simplified difference target propagation (Bartunov et al. 2018).

Layout (Norse style): :mod:`.params` holds the frozen parameter records (defaults: ``models/<kind>.toml``),
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
    KINDS,
    OPTIMIZERS,
    PARAMS_CLASS,
    CNNParams,
    MLPParams,
    TargetPropParams,
    conv_output_sizes,
    make_params,
)

_TRAIN = ("CHECKPOINT_NAME", "build_model", "evaluate", "load_checkpoint", "save_checkpoint", "train")
__all__ = [
    "ACTIVATIONS",
    "AUGMENTATIONS",
    "OPTIMIZERS",
    "KINDS",
    "PARAMS_CLASS",
    "CNNParams",
    "MLPParams",
    "TargetPropParams",
    "conv_output_sizes",
    "make_params",
    *_TRAIN,
]


def __getattr__(name):
    """The training driver (and torch) is imported on first use, so the records work without torch."""
    if name not in _TRAIN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    driver = importlib.import_module(".train", __name__)  # binds the submodule to ``train`` ...
    globals().update({n: getattr(driver, n) for n in _TRAIN})  # ... which the function replaces
    return globals()[name]
