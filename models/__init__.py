"""The named models (``*.toml``), installed with the package as ``brian_segdend.models``.

See :mod:`brian_segdend.registry` for the file format; ``segdend models`` lists them.
"""
