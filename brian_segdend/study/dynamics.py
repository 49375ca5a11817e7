"""Placeholder: filled in by the study work (issue 6)."""
DESCRIPTION = "(not yet implemented)"


def add_arguments(parser):
    pass


def run(budget, out, data_dir=None, resume=False, progress=True, **options):
    raise NotImplementedError("dynamics is not implemented yet")
